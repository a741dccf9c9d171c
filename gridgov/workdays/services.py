"""Writes of the working-day calendar (admin, command): every change is audited."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from gridgov.core.audit import audit_record
from gridgov.workdays.calendar import periods_clean
from gridgov.workdays.models import CalendarDay, WorkSchedule

TRUE = {"1", "true", "yes", "y", "是", "上班", "工作日", "workday"}
FALSE = {"0", "false", "no", "n", "否", "休息", "休", "放假", "rest"}


@transaction.atomic
def calendar_day_set(*, date: dt.date, is_workday: bool, name: str = "", actor=None) -> CalendarDay:
    """Say whether `date` is a working day (overrides the statutory data and the weekday rule)."""
    day, created = CalendarDay.objects.update_or_create(
        date=date, defaults={"is_workday": is_workday, "name": (name or "").strip()[:60],
                             "updated_by": actor if getattr(actor, "is_authenticated", False) else None})
    audit_record(actor=actor, action="workdays.day_set", target=day,
                 changes={"date": date.isoformat(), "is_workday": is_workday, "created": created})
    return day


@transaction.atomic
def calendar_day_clear(*, day: CalendarDay, actor=None) -> None:
    audit_record(actor=actor, action="workdays.day_clear", target=day, changes={"date": day.date.isoformat()})
    day.delete()


def _flag(value: str, line: int) -> bool:
    text = (value or "").strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValidationError({"is_workday": _("line %(n)d: say 上班/workday or 休息/rest") % {"n": line}})


@transaction.atomic
def calendar_days_import(*, rows: Iterable[dict[str, str]], year: int | None = None, actor=None) -> int:
    """Set many days at once (all or nothing), e.g. next year's holiday arrangement:
    rows with `date` (YYYY-MM-DD), `is_workday` (上班/休息, workday/rest, 1/0) and `name`."""
    count = 0
    for line, row in enumerate(rows, start=2):
        try:
            date = dt.date.fromisoformat((row.get("date") or "").strip())
        except ValueError:
            raise ValidationError({"date": _("line %(n)d: not a date (YYYY-MM-DD)") % {"n": line}}) from None
        if year is not None and date.year != year:
            raise ValidationError({"date": _("line %(n)d: %(d)s is not in %(y)d") % {"n": line, "d": date, "y": year}})
        calendar_day_set(date=date, is_workday=_flag(row.get("is_workday", ""), line), name=row.get("name", ""),
                         actor=actor)
        count += 1
    return count


def calendar_file_import(*, path: Path, year: int | None = None, actor=None) -> int:
    with Path(path).open(encoding="utf-8-sig", newline="") as f:
        return calendar_days_import(rows=csv.DictReader(f), year=year, actor=actor)


@transaction.atomic
def schedule_set(*, periods, scheme=None, actor=None) -> WorkSchedule:
    """Set the working periods of a scheme (or the default when `scheme` is None)."""
    cleaned = periods_clean(periods)
    schedule = WorkSchedule.objects.filter(scheme=scheme).first() if scheme else \
        WorkSchedule.objects.filter(scheme__isnull=True).first()
    if schedule is None:
        schedule = WorkSchedule(scheme=scheme)
    schedule.periods = cleaned
    schedule.save()
    audit_record(actor=actor, action="workdays.schedule_set", target=schedule, changes={"periods": cleaned})
    return schedule
