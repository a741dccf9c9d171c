"""The handler's clock: a case's stages planned from its matter (limits scaled by the report level),
their colours, and what extension, parking and rework do to them. Called only from
`services.case_transition` and the time-limit watch, with the case row locked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection

from gridgov.cases.models import Case, CasePolicy, CaseStage, SlaStatus
from gridgov.cases.policy import level_factor
from gridgov.catalogue.selectors import matter_stages
from gridgov.core.statements import row_insert, rows_write, sql_write
from gridgov.workdays.calendar import LimitUnit, deadline, working_seconds_between

WORKING_UNITS = (LimitUnit.WORKING_HOURS, LimitUnit.WORKING_DAYS)


def _warn(start: dt.datetime, amount: Decimal, unit: str, share: Decimal, scheme) -> dt.datetime:
    """When `share` of a limit counted from `start` is used (in the limit's own unit: working time for
    working limits). Day limits are turned into hours so a share of a day is meaningful."""
    if unit == LimitUnit.WORKING_DAYS:
        due = deadline(start, float(amount), unit, scheme=scheme)
        used = working_seconds_between(start, due, scheme=scheme) * float(share)
        return deadline(start, used / 3600, LimitUnit.WORKING_HOURS, scheme=scheme)
    if unit == LimitUnit.CALENDAR_DAYS:
        due = deadline(start, float(amount), unit, scheme=scheme)
        return start + (due - start) * float(share)
    return deadline(start, float(amount * share), unit, scheme=scheme)


def status_at(stage: CaseStage, now: dt.datetime) -> str:
    if stage.completed_at is not None:
        return SlaStatus.OVERDUE if stage.completed_at > stage.due_at else SlaStatus.ON_TIME
    if now >= stage.due_at:
        return SlaStatus.OVERDUE
    if now >= stage.warn_at:
        return SlaStatus.WARNING
    return SlaStatus.ON_TIME


def stages_plan(case: Case, *, start: dt.datetime, policy: CasePolicy,
                completed_at: dt.datetime | None = None) -> list[CaseStage]:
    """Create the case's stages from its matter, each counting from the planned end of the one before;
    with `completed_at`, each completed then (coloured by `status_at`): a case handled on the spot."""
    if case.matter_id is None:
        return []
    factor = level_factor(policy, case.report_level)
    share = Decimal(str(policy.warning_share))
    rows, at = [], start
    for ms in matter_stages(case.matter_id):
        amount = (ms.amount * factor).quantize(Decimal("0.01"))
        if ms.unit in (LimitUnit.WORKING_DAYS, LimitUnit.CALENDAR_DAYS):
            amount = max(amount.to_integral_value(), Decimal(1))
        due = deadline(at, float(amount), ms.unit, scheme=case.scheme_id)
        rows.append(CaseStage(case=case, order=ms.order, name_zh=ms.name_zh, name_en=ms.name_en, amount=amount,
                              unit=ms.unit, closing_condition=ms.closing_condition, started_at=at, due_at=due,
                              warn_at=_warn(at, amount, ms.unit, share, case.scheme_id)))
        at = due
    for stage in rows if completed_at is not None else ():
        stage.completed_at = completed_at
        stage.status = status_at(stage, completed_at)
    if rows:
        rows_write(row_insert(*rows))
    return rows


def _shift(when: dt.datetime, *, unit: str, working_seconds: float, clock: dt.timedelta, scheme) -> dt.datetime:
    if unit in WORKING_UNITS:
        return deadline(when, working_seconds / 3600, LimitUnit.WORKING_HOURS, scheme=scheme)
    return when + clock


def open_stages(case: Case) -> list[CaseStage]:
    return list(CaseStage.objects.filter(case=case, completed_at__isnull=True).order_by("order"))


def stages_complete(case: Case, *, now: dt.datetime, only_first: bool = False,
                    stages: list[CaseStage] | None = None) -> list[int]:
    """Complete the open stages (`stages`, when the caller has read them already; else they are read), or
    only the earliest; returns the orders completed."""
    done = []
    for stage in open_stages(case) if stages is None else stages:
        stage.completed_at = now
        stage.status = status_at(stage, now)
        stage.save(update_fields=["completed_at", "status"])
        done.append(stage.order)
        if only_first:
            break
    return done


def stages_stop(case: Case, *, now: dt.datetime) -> None:
    """Complete every open stage of the case at `now`, each coloured as `status_at` colours a completed
    stage, in one statement (sent with the transition's other writes: `core.statements.rows_deferred`)."""
    table = connection.ops.quote_name(CaseStage._meta.db_table)
    at = CaseStage._meta.get_field("completed_at").get_db_prep_save(now, connection)  # as the ORM binds a time
    rows_write(sql_write(
        f"UPDATE {table} SET completed_at = %s, status = CASE WHEN due_at < %s THEN %s ELSE %s END "  # noqa: S608 (a table name)
        "WHERE case_id = %s AND completed_at IS NULL",
        [at, at, SlaStatus.OVERDUE.value, SlaStatus.ON_TIME.value, case.pk]))


def stages_resume(case: Case, *, since: dt.datetime, now: dt.datetime) -> None:
    """After parking: every open stage's limit moves by the time spent parked (working time for working
    limits, clock time otherwise)."""
    working = working_seconds_between(since, now, scheme=case.scheme_id)
    for stage in open_stages(case):
        for name in ("due_at", "warn_at"):
            setattr(stage, name, _shift(getattr(stage, name), unit=stage.unit, working_seconds=working,
                                        clock=now - since, scheme=case.scheme_id))
        stage.status = status_at(stage, now)
        stage.save(update_fields=["due_at", "warn_at", "status"])


def stages_extend(case: Case, *, amount: Decimal, unit: str, now: dt.datetime) -> dt.datetime | None:
    """An approved extension: the first open stage's limit (and the later ones after it) move by the
    granted time; their yellow marks keep their distance to the limit."""
    stages = open_stages(case)
    if not stages:
        return None
    first = stages[0]
    new_due = deadline(first.due_at, float(amount), unit, scheme=case.scheme_id)
    delta = new_due - first.due_at
    for stage in stages:
        stage.due_at += delta
        stage.warn_at += delta
        stage.status = status_at(stage, now)
        stage.extended_count += stage is first
        stage.save(update_fields=["due_at", "warn_at", "status", "extended_count"])
    return new_due


def stages_restart(case: Case, *, now: dt.datetime, policy: CasePolicy) -> list[CaseStage]:
    """Rework or reopening: the stages run again from now, with their original limits (returned)."""
    CaseStage.objects.filter(case=case).delete()
    return stages_plan(case, start=now, policy=policy)


def case_clock_refresh(case: Case, *, now: dt.datetime, stages: list[CaseStage] | None = None) -> None:
    """Set the case's summary of its clock: the first open stage's limit and the worst colour of its
    open stages (NONE when nothing runs). `stages`: the open stages in order, when the caller has them in
    hand (else they are read). The caller saves the case."""
    if stages is None:
        stages = open_stages(case)
    if not stages:
        case.due_at = None
        case.sla_status = SlaStatus.NONE
        return
    case.due_at = stages[0].due_at
    order = [SlaStatus.ON_TIME, SlaStatus.WARNING, SlaStatus.OVERDUE]
    case.sla_status = max((s.status for s in stages), key=order.index)
