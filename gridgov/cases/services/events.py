"""Case events: the typed, append-only record of every change, written in the transaction that makes it
(`event_write`), with the tracked columns' old and new values (`case_snapshot`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Max
from django.utils import timezone

from gridgov.cases.models import Attachment, Case, CaseEvent
from gridgov.core.statements import row_create

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


def event_write(*, case: Case, kind: str, actor=None, actor_role: str = "", from_state: str = "", to_state: str = "",
                note: str = "", old: dict | None = None, new: dict | None = None,
                attachments: list[Attachment] | None = None, at: dt.datetime | None = None,
                seq: int | None = None) -> CaseEvent:
    """Append the case's next event. The caller holds the case row's lock (or just created the case), so
    numbering by the current maximum cannot race; the (case, seq) constraint catches any that would. A
    caller that knows the number (1 for the first event of a case it just created) passes `seq`."""
    if seq is None:
        seq = (CaseEvent.objects.filter(case=case).aggregate(m=Max("seq"))["m"] or 0) + 1
    user = actor if getattr(actor, "is_authenticated", False) else None
    return row_create(
        CaseEvent, case=case, seq=seq, kind=kind, at=at or timezone.now(), actor=user, actor_role=actor_role[:60],
        node_id=case.node_id, from_state=from_state, to_state=to_state, note=note, old_values=old or {},
        new_values=new or {}, attachments=[{"id": a.pk, "purpose": a.purpose, "sha256": a.sha256} for a in
                                           (attachments or [])])
