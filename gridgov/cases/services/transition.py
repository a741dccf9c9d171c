"""`case_transition`, the only code that changes a case's state: it locks the row, checks the workflow
registry (state, guard, inputs, evidence) and the grants, runs the action's handler and clock rule, bumps
`version`, writes one typed event (and the notices) in the same transaction. Everything it does per action
is read from the action's `Transition`. The `case_<action>` helpers at the end are thin names for
`case_transition` calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases import clock
from gridgov.cases.attachments import Photo, attachments_add, photos_check
from gridgov.cases.errors import ActionForbidden, CaseConflict
from gridgov.cases.grants import (
    action_allowed_as,
    duty_refusal,
    grants_load,
    user_assignments_load,
    user_standing,
)
from gridgov.cases.models import Attachment, Case, CaseEvent, CaseRequest, CaseStage
from gridgov.cases.notify import (
    assignee_facts_annotations,
    assignee_facts_drop,
    assignee_facts_take,
    scheme_offices,
)
from gridgov.cases.policy import policy_for
from gridgov.cases.selectors import (
    case_pending_request,
    round_facts_after,
    round_facts_annotations,
    round_facts_drop,
    round_facts_take,
)
from gridgov.cases.services import handlers
from gridgov.cases.services.events import case_snapshot, event_write, jsonable
from gridgov.cases.services.handlers import satisfaction_clean
from gridgov.cases.services.notifications import notices_after
from gridgov.cases.states import CaseState
from gridgov.cases.transitions import PHOTO_INPUTS, TRANSITIONS, Audience, Clock, Need, Transition
from gridgov.catalogue.selectors import matter_stages
from gridgov.core import versioned
from gridgov.core.statements import Compiled, rows_deferred
from gridgov.workdays.calendar import calendar_load

# UNIQUE(case, seq) of CaseEvent as each vendor names it in the error: PostgreSQL by name, SQLite by columns
EVENT_SEQ_COLLISION = ("event_unique_seq", "cases_caseevent.case_id, cases_caseevent.seq")
# the clock rules that compute deadlines on the working-day calendar (planning, resuming, extending)
_CALENDAR_CLOCKS = (Clock.START, Clock.STOP, Clock.RESUME, Clock.EXTEND, Clock.RESTART)


def _inputs_check(t: Transition, kw: dict) -> None:
    """The action's inputs as the registry lists them: one it does not take is refused, a required one
    that is missing or empty too (each naming the field)."""
    for name in kw:
        if name not in PHOTO_INPUTS and not t.takes(name):
            raise ValidationError({name: _("%(action)s does not take this field") % {"action": t.action}})
    for name in t.required_fields:
        if kw.get(name) in (None, "", [], ()):
            raise ValidationError({name: _("this field is required to %(action)s") % {"action": str(t.label).lower()}})


def _evidence(case: Case, t: Transition, kw: dict) -> dict[str, list[Photo]]:
    """The photos an action carries, checked, with the photos the registry requires of it enforced."""
    photos = {purpose: photos_check(kw.get(name), field=name) for name, purpose in PHOTO_INPUTS.items()}
    for rule in t.evidence:
        if rule.need == Need.IF_MATTER_ASKS and not (case.matter_id and case.matter.evidence_after):
            continue
        if rule.need == Need.UNLESS_REPORT_PHOTO and case.attachments.filter(
                purpose=Attachment.Purpose.REPORT).exists():
            continue
        if not photos[rule.purpose]:
            name = next(n for n, purpose in PHOTO_INPUTS.items() if purpose == rule.purpose)
            raise ValidationError({name: _("%(action)s needs a photo (%(purpose)s)")
                                   % {"action": t.label, "purpose": Attachment.Purpose(rule.purpose).label}})
    return photos


def case_transition(*, case: Case | int, actor, action: str, note: str = "", reason: str = "",
                    expected_version: int | None = None, at: dt.datetime | None = None, **kw: Any) -> Case:
    """Take `action` on the case as `actor` (None = the system). The only way a case changes state.

    Locks the case row; refuses (and changes nothing) when the action is unknown (ValidationError), not
    allowed in the current state or the case moved on since `expected_version` (CaseConflict → 409), refused
    to the actor by the separation of duties (they handled this round: ActionForbidden → 403 naming the
    rule) or not granted to them (ActionForbidden → 403), it decides an application and none of its kind
    waits (ValidationError), or its input is bad: not taken by the action, missing, or refused by its
    handler (ValidationError naming the field).
    Otherwise applies the action and the clock rule, bumps the version and writes one event, in one
    transaction."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise ValidationError({"action": _("unknown action %(action)s") % {"action": action}})
    reason = (reason or "").strip()
    note = (note or "").strip()
    if t.reason and not reason:
        raise ValidationError({"reason": _("%(action)s needs a reason") % {"action": t.label}})
    case_id = case.pk if isinstance(case, Case) else int(case)
    with versioned.versions_pinned():  # one read of the settings' versions for the whole transition
        if isinstance(case, Case) and not connection.in_atomic_block:
            _settings_load(case, t, actor=actor, assignee=kw.get("assignee"))
        args = dict(actor=actor, action=action, note=note, reason=reason, expected_version=expected_version, at=at)
        try:
            return _transition_locked(t, case_id, kw=dict(kw), seq_from_lock=True, **args)
        except IntegrityError as exc:
            if not any(name in str(exc) for name in EVENT_SEQ_COLLISION):
                raise
            # the number read with the lock was stale (PostgreSQL re-reads only the locked row when a lock
            # was waited for): everything was rolled back; take the action again, numbering by the maximum
            return _transition_locked(t, case_id, kw=dict(kw), seq_from_lock=False, **args)


def _settings_load(case: Case, t: Transition, *, actor, assignee) -> None:
    """Read what the action consults and the process keeps into its caches before the transaction opens: a
    transaction reads through those caches but never fills them (`core.versioned`), so without this every
    transition would read them again. The scheme's grants and policy, the actor's roles; the calendar and
    the matter's stages when its clock computes deadlines; what the action's handler reads (`handlers.LOADS`:
    a dispatch's teams and predicted completion); the offices over the cell when they are told."""
    grants_load(case)
    policy_for(case.scheme_id)
    user_assignments_load(actor)
    if t.clock in _CALENDAR_CLOCKS:
        calendar_load(case.scheme_id)
        if case.matter_id is not None:
            matter_stages(case.matter_id)
    if t.handler in handlers.LOADS:
        handlers.LOADS[t.handler](case, assignee=assignee)
    if any(notice.to == Audience.CHECKERS for notice in t.notices):
        scheme_offices(case.scheme_id)


def _transition_locked(t: Transition, case_id: int, *, actor, action: str, note: str, reason: str,
                       expected_version: int | None, at: dt.datetime | None, kw: dict, seq_from_lock: bool) -> Case:
    """`case_transition` on the locked row. The case is read with what the grants and the separation of
    duties ask of it: its last event number (the event's number follows it without a query of its own,
    `seq_from_lock`, the (case, seq) constraint catching a number made stale by a concurrent writer: the
    caller then retries without it), its assignees and the handlers of its rounds."""
    with transaction.atomic():
        locked = _case_lock(case_id)
        try:
            # its writes (stages, the case's row, the event, the notices) go together at its end
            with rows_deferred():
                return _transition_apply(t, locked, actor=actor, action=action, note=note, reason=reason,
                                         expected_version=expected_version, at=at, kw=kw,
                                         seq_from_lock=seq_from_lock)
        finally:  # what the case was read with holds inside the transaction only
            assignee_facts_drop(locked)
            round_facts_drop(locked)
            locked.__dict__.pop("_loaded", None)


def _case_lock_queryset(case_id: int):
    # of=self: matter and team are outer joins, which PostgreSQL refuses to lock
    return (Case.objects.select_for_update(of=("self",))
            .select_related("scheme", "node", "matter", "assignee_team", "owner")
            .annotate(last_seq=Subquery(CaseEvent.objects.filter(case=OuterRef("pk")).order_by("-seq")
                                        .values("seq")[:1]),
                      _has_stages=Exists(CaseStage.objects.filter(case=OuterRef("pk"))),
                      **assignee_facts_annotations(), **round_facts_annotations())
            .filter(pk=case_id).order_by())  # one row by its key: no ORDER BY to build


# compiled once a day per process (its assignees are today's): the ORM's compilation cost more than the read
_CASE_LOCK = Compiled(_case_lock_queryset)


def _case_lock(case_id: int) -> Case:
    rows = _CASE_LOCK.rows(case_id, key=timezone.localdate(), loaded=True)
    if not rows:
        raise Case.DoesNotExist(f"case {case_id}")
    locked = rows[0]
    assignee_facts_take(locked)
    round_facts_take(locked)
    return locked


def _transition_apply(t: Transition, locked: Case, *, actor, action: str, note: str, reason: str,
                      expected_version: int | None, at: dt.datetime | None, kw: dict, seq_from_lock: bool) -> Case:
    if expected_version is not None and int(expected_version) != locked.version:
        raise CaseConflict(_("the case changed since you loaded it (your version %(mine)s, now %(now)s); "
                             "reload it and try again") % {"mine": expected_version, "now": locked.version},
                           code="version", state=locked.state, version=locked.version)
    if locked.state not in t.sources:
        raise CaseConflict(_("%(action)s is not possible while the case is %(state)s")
                           % {"action": t.label, "state": locked.get_state_display()},
                           code="state", state=locked.state, version=locked.version)
    standing = user_standing(actor, locked)
    refusal = duty_refusal(standing, action)  # 监督与处置分离: above every grant
    if refusal:
        raise ActionForbidden(refusal)
    as_role = action_allowed_as(actor, locked, action, standing=standing)
    if as_role is None:
        raise ActionForbidden(_("you may not %(action)s this case") % {"action": str(t.label).lower()})
    _inputs_check(t, kw)
    request = None
    if t.decides:  # the guard: a decision needs an application of its kind waiting
        request = case_pending_request(locked, t.decides)
        if request is None:
            raise ValidationError({"action": _("there is no application waiting for a decision")})
        kw["request"] = request
    now = at or timezone.now()
    before = case_snapshot(locked)
    from_state = locked.state
    policy = policy_for(locked.scheme)
    photos = _evidence(locked, t, kw)
    extra_new: dict[str, Any] = {}
    if t.handler:
        handler = getattr(handlers, t.handler)
        extra_new = handler(locked, actor=actor, actor_role=as_role, reason=reason, now=now, policy=policy,
                            **kw) or {}
    if t.target:
        locked.state = t.target
    clock_new, open_stages = _clock_apply(locked, t.clock, now=now, policy=policy, request=request)
    extra_new.update(clock_new)
    if t.clock != Clock.NONE:  # an action that leaves the clock alone leaves its summary as it is
        clock.case_clock_refresh(locked, now=now, stages=open_stages)
    locked.version += 1
    stored = []
    for purpose, items in photos.items():
        stored += attachments_add(case=locked, photos=items, purpose=purpose, actor=actor)
    after = case_snapshot(locked)
    old = {k: v for k, v in before.items() if after[k] != v}
    new = {k: after[k] for k in old}
    new.update(extra_new)
    event = event_write(case=locked, kind=action, actor=actor, actor_role=as_role, from_state=from_state,
                        to_state=locked.state, note="\n".join(x for x in (reason, note) if x), old=old, new=new,
                        attachments=stored, at=now, seq=(locked.last_seq or 0) + 1 if seq_from_lock else None,
                        with_case=True)  # the case's row goes with its event
    round_facts_after(locked, event)
    notices_after(locked, t, event=event, policy=policy)
    return locked


def _clock_apply(case: Case, rule: Clock, *, now: dt.datetime, policy,
                 request: CaseRequest | None) -> tuple[dict, list[CaseStage] | None]:
    """Apply the action's clock rule; returns what the event records of it (an extension's new limit) and
    the case's open stages after it, in order, when they are in hand (None: to be read)."""
    if rule == Clock.START:
        # the lock said whether the case has stages: a first dispatch plans them without reading
        stages = list(CaseStage.objects.filter(case=case).order_by("order")) if case._has_stages else []
        if not stages:
            return {}, clock.stages_plan(case, start=now, policy=policy)
        return {}, [s for s in stages if s.completed_at is None]
    if rule == Clock.COMPLETE_STAGE:
        stages = clock.open_stages(case)
        if not clock.stages_complete(case, now=now, only_first=True, stages=stages):
            raise ValidationError({"action": _("no stage of this case is open")})
        return {}, stages[1:]
    if rule == Clock.STOP:  # the lock said whether the case has stages
        if case._has_stages:
            clock.stages_stop(case, now=now)
        elif case.state == CaseState.REPORTED_BACK:  # handled on the spot: its stages planned, all completed
            clock.stages_plan(case, start=case.reported_at, policy=policy, completed_at=now)
        return {}, []
    if rule == Clock.PAUSE:
        case.parked_at = now
    elif rule == Clock.RESUME:
        clock.stages_resume(case, since=case.parked_at or now, now=now)
        case.parked_at = None
    elif rule == Clock.EXTEND:  # the application this action approved says by how much
        new_due = clock.stages_extend(case, amount=request.amount, unit=request.unit, now=now)
        return {"stage_due_at": jsonable(new_due)}, None
    elif rule == Clock.RESTART:
        return {}, clock.stages_restart(case, now=now, policy=policy)
    return {}, None


def case_register(*, case, actor, **kw) -> Case:
    return case_transition(case=case, actor=actor, action="register", **kw)


def case_dispatch(*, case, actor, assignee: dict | None = None, **kw) -> Case:
    return case_transition(case=case, actor=actor, action="dispatch", assignee=assignee, **kw)


def case_reroute(*, case, actor, reason: str, assignee: dict | None = None, **kw) -> Case:
    return case_transition(case=case, actor=actor, action="reroute", reason=reason, assignee=assignee, **kw)


def case_evaluate(*, case, actor, satisfaction: int, reason: str = "", **kw) -> Case:
    """综合评价: a score at or above the policy's threshold ends the case; below it reopens it (with the
    reason the person gave, or a default one)."""
    score = satisfaction_clean(satisfaction)
    case_obj = case if isinstance(case, Case) else Case.objects.get(pk=case)
    if score < policy_for(case_obj.scheme).dissatisfied_below:
        return case_transition(case=case_obj, actor=actor, action="reopen", satisfaction=score,
                               reason=reason or _("dissatisfied (score %(s)s)") % {"s": score}, **kw)
    return case_transition(case=case_obj, actor=actor, action="evaluate", satisfaction=score, note=reason, **kw)
