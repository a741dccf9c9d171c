"""A case's time limit as people see it: its colour and its words, for every page that shows one (the case list,
the live queue, the case page, the field worker's tasks, the department inbox).

An open case whose limit runs is green / yellow as stored, and red as soon as its limit has passed (the
time-limit watch may not have run yet); its words say "due in 3 hours" or "overdue by 2 hours". A case with
no running limit says so. A closed case has no running clock (`Case.due_at` is emptied when it stops), so it
shows when it closed and whether it closed on time: late when one of its stages was completed after its
limit — the rule of the on-time rate (`dashboard.kpi`), written once here (`case_late_stage`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

from gridgov.cases.models import CaseStage, CaseState, SlaStatus

DONE_STATES = (CaseState.CLOSED, CaseState.EVALUATED)


def case_late_stage() -> Exists:
    """For a Case queryset (`.annotate(closed_late=case_late_stage())`): one of its stages was completed after
    its limit."""
    return Exists(CaseStage.objects.filter(case=OuterRef("pk"), completed_at__gt=F("due_at")))


@dataclass(frozen=True)
class DueShown:
    colour: str  # a SlaStatus value: the CSS class sla-<colour>
    label: str  # "On time", "Overdue", "Closed late" ...
    words: str  # "due in 3 hours", "closed 06-01 14:20" ...; "" when no limit runs (the label says so)


def sla_colour(case, now: dt.datetime) -> str:
    """The colour of a case's running limit: the stored one, red as soon as the limit has passed."""
    if case.due_at is not None and case.due_at <= now and case.sla_status in (SlaStatus.ON_TIME, SlaStatus.WARNING):
        return SlaStatus.OVERDUE
    return case.sla_status


def due_words(due_at: dt.datetime | None, now: dt.datetime) -> str:
    """"due in 3 hours" / "overdue by 2 hours" for a limit (a case's, a stage's, a report-in's); "" for none."""
    if due_at is None:
        return ""
    if due_at <= now:
        return _("overdue by %(time)s") % {"time": timesince(due_at, now, depth=1)}
    return _("due in %(time)s") % {"time": timeuntil(due_at, now, depth=1)}


def _closed_late(case) -> bool:
    annotated = getattr(case, "closed_late", None)
    if annotated is not None:
        return bool(annotated)
    return any(s.completed_at is not None and s.completed_at > s.due_at for s in case.stages.all())


def case_due_shown(case, now: dt.datetime) -> DueShown:
    """The colour, label and words of `case`'s time limit at `now` (see the module's docstring). For lists,
    annotate `closed_late` (`case_late_stage()`), else the case's stages are read (prefetch them)."""
    if case.state in DONE_STATES and case.closed_at is not None:
        closed = _("closed %(at)s") % {"at": timezone.localtime(case.closed_at).strftime("%m-%d %H:%M")}
        if _closed_late(case):
            return DueShown(SlaStatus.OVERDUE, _("Closed late"), closed)
        return DueShown(SlaStatus.ON_TIME, _("Closed on time"), closed)
    colour = sla_colour(case, now)
    return DueShown(colour, str(SlaStatus(colour).label), due_words(case.due_at, now))
