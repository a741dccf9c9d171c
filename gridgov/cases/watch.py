"""The time-limit watch (超时督办): every minute, stages whose colour should change by now turn yellow
or red, each change written as one system event with its notices, and overdue report-ins (报到) are
noticed once. Run by `tasks.sla_watch_task` and `manage.py case_watch`.

Invariants and choices:
- only cases in `CLOCK_STATES` are watched; a parked, returned, reported-back or closed case keeps its
  stages as they are until an action moves them;
- colours only move forward here (ON_TIME → WARNING → OVERDUE). Moving back (an approved extension, parking
  time) is the transition service's job, through `clock.status_at`;
- each case changes in its own short transaction holding the case row's lock (the same lock
  `services.case_transition` takes), and the change is decided again inside the lock, so a run that
  overlaps an action, another run or a retry writes nothing twice. The stage's stored colour is the
  record of what was told: an event is written exactly when the colour changes;
- a stage that went from ON_TIME straight past its limit (the watch was down, or the stage was very
  short) gets the red event only: the timeline says what was noticed, not a yellow nobody saw;
- notices are keyed by case, stage, colour and the stage's limit, so a re-run adds none but a stage
  that turns red again after an extension moved its limit is told again;
- every write of a tracked column bumps `Case.version`, the watch's too: a form loaded before the watch
  moved `sla_status` / `due_at` is stale (409), as after any other change the event records;
- with the policy's `escalate_when_overdue`, a case with a stage turning red in this run is whistled one
  level up through `case_transition` (as SYSTEM) in the same transaction: once per case and run, even
  when several stages turned red together after downtime.

Scale: candidates come from the (completed_at, warn_at) index, read in keyset pages of (warn_at, id) so
each page starts where the last ended; only stages past their yellow mark whose colour is behind are
read, never every open stage. A page is ids only; the rows are loaded per case inside its lock.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases import clock
from gridgov.cases.errors import ActionForbidden, CaseConflict
from gridgov.cases.models import Case, CaseEvent, CasePolicy, CaseStage, ReportIn, SlaStatus
from gridgov.cases.notify import assignee_users, notify, report_in_recipients
from gridgov.cases.policy import policy_for
from gridgov.cases.services import case_transition, event_write
from gridgov.cases.states import CLOCK_STATES
from gridgov.cases.transitions import TRANSITIONS

logger = logging.getLogger(__name__)

SYSTEM_ROLE = "SYSTEM"
_RANK = {SlaStatus.ON_TIME: 0, SlaStatus.WARNING: 1, SlaStatus.OVERDUE: 2}
_EVENT_KIND = {SlaStatus.WARNING: "sla_warning", SlaStatus.OVERDUE: "sla_overdue"}
# a department can only report in while the case takes the action; after that an overdue notice is noise
REPORT_IN_STATES = TRANSITIONS["report_in"].sources


@dataclass
class WatchReport:
    checked: int = 0  # stages read as candidates (past their yellow mark, colour behind; any case state)
    warning: int = 0  # stages turned close to the limit (yellow)
    overdue: int = 0  # stages turned overdue (red)
    report_in_overdue: int = 0  # report-ins noticed overdue
    escalated: int = 0  # whistles blown because a stage turned red

    @property
    def changed(self) -> bool:
        return bool(self.warning or self.overdue or self.report_in_overdue or self.escalated)


def sla_watch(*, now: dt.datetime | None = None, batch: int = 2000) -> WatchReport:
    """Turn stages yellow and red as `now` passes their marks and notice overdue report-ins. Idempotent:
    a second run at the same `now` (or a run overlapping this one) changes nothing."""
    now = now or timezone.now()
    report = WatchReport()
    policies: dict[int, CasePolicy] = {}
    for case_ids, read in _stage_pages(now, batch):
        report.checked += read
        for case_id in case_ids:
            warning, overdue, whistled = _case_watch(case_id, now=now, policies=policies)
            report.warning += warning
            report.overdue += overdue
            report.escalated += whistled
    for rows in _report_in_pages(now, batch):
        for row_id, case_id in rows:
            report.report_in_overdue += _report_in_watch(row_id, case_id, now=now)
    if report.changed:
        logger.info("time-limit watch at %s: %s", now.isoformat(), report)
    return report


# --------------------------------------------------------------------------- stages
def stages_behind(now: dt.datetime):
    """Open stages whose stored colour is behind the clock at `now`, whatever their case's state (an
    index range on (completed_at, warn_at); the states are checked per page by primary key, which keeps
    the plan the same at any size). Relies on a stage's yellow mark never being after its limit (a
    yellow share of at most 1)."""
    return (CaseStage.objects.filter(completed_at__isnull=True, warn_at__lte=now)
            .filter(Q(status=SlaStatus.ON_TIME) | Q(status=SlaStatus.WARNING, due_at__lte=now)))


def _stage_pages(now: dt.datetime, size: int) -> Iterator[tuple[list[int], int]]:
    """Pages of ids of running cases with a stage behind the clock (in the order of their stages' yellow
    marks), and how many stage rows each page read. Keyset on (warn_at, id): each page starts where the
    last one ended. Stages of parked or returned cases are read and skipped: they keep their colour."""
    after: tuple[dt.datetime, int] | None = None
    while True:
        qs = stages_behind(now)
        if after is not None:  # `warn_at >= w` bounds the index range; the rest breaks ties
            qs = qs.filter(Q(warn_at__gte=after[0]), Q(warn_at__gt=after[0]) | Q(pk__gt=after[1]))
        rows = list(qs.order_by("warn_at", "pk").values_list("warn_at", "pk", "case_id")[:size])
        if not rows:
            return
        case_ids = list(dict.fromkeys(r[2] for r in rows))
        running = set(Case.objects.filter(pk__in=case_ids, state__in=CLOCK_STATES).values_list("pk", flat=True))
        yield [pk for pk in case_ids if pk in running], len(rows)
        if len(rows) < size:
            return
        after = (rows[-1][0], rows[-1][1])


def _policy(scheme_id: int, cache: dict[int, CasePolicy]) -> CasePolicy:
    if scheme_id not in cache:
        cache[scheme_id] = policy_for(scheme_id)
    return cache[scheme_id]


def _case_watch(case_id: int, *, now: dt.datetime, policies: dict[int, CasePolicy]) -> tuple[int, int, bool]:
    """One case, in one transaction under its row lock: (stages turned close to the limit, turned overdue, whistled)."""
    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",))
                .select_related("node", "owner", "assignee_user", "assignee_team")
                .filter(pk=case_id, state__in=CLOCK_STATES).first())
        if case is None:  # moved on (parked, reported back ...) since the page was read
            return 0, 0, False
        changes = []
        for stage in clock.open_stages(case):
            status = clock.status_at(stage, now)
            if _RANK[status] > _RANK.get(stage.status, 0):
                changes.append((stage, stage.status, status))
        if not changes:
            return 0, 0, False
        for stage, _old, status in changes:
            stage.status = status
            stage.save(update_fields=["status"])
        clock.case_clock_refresh(case, now=now)
        case.version += 1  # a tracked column changes: see the module's docstring
        case.save(update_fields=["sla_status", "due_at", "version"])
        users = assignee_users(case) | ({case.owner} if case.owner_id else set())
        for stage, old, status in changes:
            _stage_told(case, stage, old=old, status=status, users=users, now=now)
        overdue = sum(1 for _s, _o, status in changes if status == SlaStatus.OVERDUE)
        whistled = (bool(overdue) and _policy(case.scheme_id, policies).escalate_when_overdue
                    and _whistle(case, now=now))
        warning = len(changes) - overdue
    return warning, overdue, whistled


def _stage_told(case: Case, stage: CaseStage, *, old: str, status: str, users: set, now: dt.datetime) -> None:
    kind = _EVENT_KIND[status]
    due = stage.due_at
    event_write(case=case, kind=kind, actor=None, actor_role=SYSTEM_ROLE, from_state=case.state, to_state=case.state,
                old={"stage": stage.order, "status": old},
                new={"stage": stage.order, "status": status, "due_at": due.isoformat()}, at=now)
    values = {"number": case.number, "stage": stage.name_zh,
              "due": timezone.localtime(due).strftime("%m-%d %H:%M")}
    text = (_("case %(number)s: stage %(stage)s is over its time limit (%(due)s)") if status == SlaStatus.OVERDUE
            else _("case %(number)s: stage %(stage)s is close to its time limit (%(due)s)")) % values
    notify(users=users, case=case, kind=kind, key=f"case{case.pk}:stage{stage.order}:{status}:{int(due.timestamp())}",
           text=text)


def _whistle(case: Case, *, now: dt.datetime) -> bool:
    """Escalate one level up as the system. A case already at the top, or a deployment that took the
    whistle from SYSTEM, keeps its red without a whistle (the savepoint of `case_transition` undoes
    only the whistle)."""
    try:
        case_transition(case=case.pk, actor=None, action="whistle", at=now,
                        reason=_("a stage is over its time limit (automatic escalation)"))
    except (ValidationError, CaseConflict, ActionForbidden) as exc:
        logger.info("case %s not escalated after turning red: %s", case.pk, exc)
        return False
    return True


# --------------------------------------------------------------------------- report-ins
def report_ins_overdue(now: dt.datetime):
    """Report-ins not made by their escalation's time, on cases that can still take them."""
    return ReportIn.objects.filter(reported_at__isnull=True, escalation__report_in_due_at__lte=now,
                                   escalation__case__state__in=REPORT_IN_STATES)


def _report_in_pages(now: dt.datetime, size: int) -> Iterator[list[tuple[int, int]]]:
    """Pages of (report-in id, case id) not yet noticed. Noticed ones are known by their event (the event
    names the report-in), looked up per page: whistles are rare, so the pages stay short."""
    last = 0
    while True:
        rows = list(report_ins_overdue(now).filter(pk__gt=last).order_by("pk")
                    .values_list("pk", "escalation__case_id")[:size])
        if not rows:
            return
        told = _noticed({case_id for _pk, case_id in rows})
        fresh = [(pk, case_id) for pk, case_id in rows if pk not in told]
        if fresh:
            yield fresh
        if len(rows) < size:
            return
        last = rows[-1][0]


def _noticed(case_ids: set[int]) -> set[int]:
    return {values.get("report_in") for values in CaseEvent.objects.filter(
        case_id__in=case_ids, kind="report_in_overdue").values_list("new_values", flat=True)}


def _report_in_watch(row_id: int, case_id: int, *, now: dt.datetime) -> int:
    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",)).select_related("node")
                .filter(pk=case_id, state__in=REPORT_IN_STATES).first())
        if case is None:
            return 0
        row = (report_ins_overdue(now).select_related("escalation__node", "department")
               .filter(pk=row_id, escalation__case_id=case_id).first())
        if row is None or row.pk in _noticed({case.pk}):  # reported in, or noticed, since the page was read
            return 0
        escalation = row.escalation
        event_write(case=case, kind="report_in_overdue", actor=None, actor_role=SYSTEM_ROLE, from_state=case.state,
                    to_state=case.state, at=now,
                    new={"report_in": row.pk, "escalation": escalation.pk, "department": row.department.key,
                         "report_in_due_at": escalation.report_in_due_at.isoformat()})
        notify(users=report_in_recipients(escalation, [row.department]), case=case, kind="report_in_overdue", key=f"case{case.pk}:report_in{row.pk}:overdue",
               text=_("case %(number)s: %(department)s has not reported in (due %(due)s)")
               % {"number": case.number, "department": row.department.name_zh,
                  "due": timezone.localtime(escalation.report_in_due_at).strftime("%m-%d %H:%M")})
    return 1
