"""Case events: the typed, append-only record of every change, written in the transaction that makes it
(`event_write`), with the tracked columns' old and new values (`case_snapshot`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Max
from django.utils import timezone

from gridgov.cases.models import Attachment, Case, CaseEvent
from gridgov.core.statements import row_insert, row_update, rows_write

TRACKED = ("state", "matter_id", "report_level", "handling_mode", "owner_id", "assignee_kind", "assignee_user_id",
           "assignee_node_id", "assignee_team_id", "routing_rule_id", "due_at", "escalation_depth", "merged_into_id",
           "satisfaction", "rework_count", "predicted_at", "parked_at")


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def case_snapshot(case: Case) -> dict[str, Any]:
    return {name: jsonable(getattr(case, name)) for name in TRACKED}


def event_build(*, case: Case, kind: str, seq: int, actor=None, actor_role: str = "", from_state: str = "",
                to_state: str = "", note: str = "", old: dict | None = None, new: dict | None = None,
                attachments: list[Attachment] | None = None, at: dt.datetime | None = None) -> CaseEvent:
    """The event `event_write` writes, numbered `seq`, not written yet: for a writer that sends it with
    other rows (intake: a new case, its key and its report event in one statement)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return CaseEvent(
        case=case, seq=seq, kind=kind, at=at or timezone.now(), actor=user, actor_role=actor_role[:60],
        node_id=case.node_id, from_state=from_state, to_state=to_state, note=note, old_values=old or {},
        new_values=new or {}, attachments=[{"id": a.pk, "purpose": a.purpose, "sha256": a.sha256} for a in
                                           (attachments or [])])


def event_write(*, case: Case, kind: str, actor=None, actor_role: str = "", from_state: str = "", to_state: str = "",
                note: str = "", old: dict | None = None, new: dict | None = None,
                attachments: list[Attachment] | None = None, at: dt.datetime | None = None,
                seq: int | None = None, with_case: bool = False) -> CaseEvent:
    """Append the case's next event. The caller holds the case row's lock (or just created the case), so
    numbering by the current maximum cannot race; the (case, seq) constraint catches any that would. A
    caller that knows the number (1 for the first event of a case it just created) passes `seq`. With
    `with_case` the case's row is written with the event, in one statement where the database allows
    (`core.statements.rows_write`): a transition's change and its record in one round trip."""
    if seq is None:
        seq = (CaseEvent.objects.filter(case=case).aggregate(m=Max("seq"))["m"] or 0) + 1
    event = event_build(case=case, kind=kind, actor=actor, actor_role=actor_role, from_state=from_state,
                        to_state=to_state, note=note, old=old, new=new, attachments=attachments, at=at, seq=seq)
    if with_case:
        # a case read under its lock with its values (the transition's) writes the columns it changed
        rows_write(row_update(case, loaded=getattr(case, "_loaded", None)), row_insert(event))
    else:
        rows_write(row_insert(event))
    return event
