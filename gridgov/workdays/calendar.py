"""Working time: which days are working days, and deadlines in the four units a time limit may use.

Units (`LimitUnit`): working hours (counted inside the working periods of working days), clock hours
("emergency" hours, every hour counts), working days (a limit of N working days ends when the working
periods of the N-th working day after the start day end), calendar days (the end of the N-th day).

The calendar rows edited by administrators (days and working hours) are read once per process and re-read
when the CALENDAR counter of `core.versioned` moves (every write of their tables bumps it, by trigger), so
an edit in the admin applies to every process from its next request.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from decimal import Decimal

import chinese_calendar
from django.core.exceptions import ValidationError
from django.db.models import Q, TextChoices
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from gridgov.core import versioned
from gridgov.workdays.models import DEFAULT_PERIODS, CalendarDay, WorkSchedule

MAX_SEARCH_DAYS = 3660  # a deadline further than ten years away is a configuration error


class LimitUnit(TextChoices):
    WORKING_HOURS = "WORKING_HOURS", _("working hours")
    CLOCK_HOURS = "CLOCK_HOURS", _("clock (emergency) hours")
    WORKING_DAYS = "WORKING_DAYS", _("working days")
    CALENDAR_DAYS = "CALENDAR_DAYS", _("calendar days")


def _number(value) -> str:
    return f"{Decimal(str(value)).normalize():f}"


def limit_text(amount, unit: str) -> str:
    """A time limit in its natural unit, as people say it: "15 minutes", "2 hours", "1 hour 30 minutes",
    "4 working hours", "3 working days", "10 days" (never "0.25 clock hours")."""
    amount = Decimal(str(amount))
    plural = 1 if amount == 1 else 2
    if unit in (LimitUnit.CLOCK_HOURS, LimitUnit.WORKING_HOURS):
        minutes = amount * 60
        if minutes == minutes.to_integral_value():
            whole = int(minutes)
            hours, rest = divmod(whole, 60)
            working = unit == LimitUnit.WORKING_HOURS
            if hours == 0:
                return (ngettext("%(n)d working minute", "%(n)d working minutes", rest) if working
                        else ngettext("%(n)d minute", "%(n)d minutes", rest)) % {"n": rest}
            text = (ngettext("%(n)d working hour", "%(n)d working hours", hours) if working
                    else ngettext("%(n)d hour", "%(n)d hours", hours)) % {"n": hours}
            if rest:
                text += " " + ngettext("%(n)d minute", "%(n)d minutes", rest) % {"n": rest}
            return text
        if unit == LimitUnit.WORKING_HOURS:
            return ngettext("%(n)s working hour", "%(n)s working hours", plural) % {"n": _number(amount)}
        return ngettext("%(n)s hour", "%(n)s hours", plural) % {"n": _number(amount)}
    if unit == LimitUnit.WORKING_DAYS:
        return ngettext("%(n)s working day", "%(n)s working days", plural) % {"n": _number(amount)}
    if unit == LimitUnit.CALENDAR_DAYS:
        return ngettext("%(n)s day", "%(n)s days", plural) % {"n": _number(amount)}
    return f"{_number(amount)} {unit}"


Period = tuple[dt.time, dt.time]


# ------------------------------------------------------------------------------------------- days

@functools.cache
def package_years() -> range:
    """The years the bundled `chinese-calendar` data covers (the package's data: found once per process)."""
    from chinese_calendar import constants

    return range(min(constants.holidays).year, max(constants.holidays).year + 1)


@functools.lru_cache(maxsize=8192)
def _statutory(day: dt.date) -> tuple[bool, str, str]:
    """`day_status` by the bundled data alone (a pure function of the date: kept per process, since a
    deadline asks about the same days again and again)."""
    on_holiday, name = chinese_calendar.get_holiday_detail(day)
    workday = chinese_calendar.is_workday(day)
    if not workday and not on_holiday:
        name = ""  # an ordinary weekend
    elif workday and day.weekday() >= 5:
        name = name or "调休上班"
    return workday, name or "", "statutory"


def _override_days() -> dict[dt.date, tuple[bool, str]]:
    return versioned.versioned_get(versioned.CALENDAR, "days", lambda: {
        d: (w, n) for d, w, n in CalendarDay.objects.values_list("date", "is_workday", "name")})


def day_status(day: dt.date, *, overrides: dict | None = None) -> tuple[bool, str, str]:
    """(is a working day, name of the holiday or swap, source: "table" / "statutory" / "weekday rule")."""
    table = _override_days() if overrides is None else overrides
    if day in table:
        workday, name = table[day]
        return workday, name, "table"
    if day.year in package_years():
        return _statutory(day)
    return day.weekday() < 5, "", "weekday rule"


def is_workday(day: dt.date) -> bool:
    return day_status(day)[0]


def next_workday(day: dt.date, *, include: bool = False) -> dt.date:
    table = _override_days()
    current = day if include else day + dt.timedelta(days=1)
    for _attempt in range(MAX_SEARCH_DAYS):
        if day_status(current, overrides=table)[0]:
            return current
        current += dt.timedelta(days=1)
    raise ValueError("no working day within ten years: check the calendar table")


# ---------------------------------------------------------------------------------------- periods

@functools.lru_cache(maxsize=256)
def _parse(periods: tuple[tuple[str, str], ...]) -> tuple[Period, ...]:
    return tuple((dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in periods)


def periods_clean(periods: Sequence[Sequence[str]]) -> list[list[str]]:
    """Validate working periods: HH:MM pairs, each start before its end, in order, not overlapping."""
    cleaned: list[list[str]] = []
    previous_end: dt.time | None = None
    if not periods:
        raise ValidationError({"periods": gettext("give at least one working period")})
    for i, pair in enumerate(periods, start=1):
        try:
            start, end = (dt.time.fromisoformat(str(v)) for v in pair)
        except (TypeError, ValueError):
            raise ValidationError({"periods": gettext("period %(i)d is not a pair of HH:MM times") % {"i": i}}) from None
        if start >= end:
            raise ValidationError({"periods": gettext("period %(i)d ends before it starts") % {"i": i}})
        if previous_end is not None and start < previous_end:
            raise ValidationError({"periods": gettext("period %(i)d overlaps the one before") % {"i": i}})
        previous_end = end
        cleaned.append([start.strftime("%H:%M"), end.strftime("%H:%M")])
    return cleaned


def schedule_periods(scheme=None) -> tuple[Period, ...]:
    """The working periods of `scheme` (a LevelScheme, its id, or None for the default)."""
    scheme_id = getattr(scheme, "pk", scheme)
    return versioned.versioned_get(versioned.CALENDAR, ("periods", scheme_id), lambda: _periods_read(scheme_id))


def _periods_read(scheme_id) -> tuple[Period, ...]:
    wanted = Q(scheme__isnull=True) | Q(scheme_id=scheme_id) if scheme_id else Q(scheme__isnull=True)
    rows = dict(WorkSchedule.objects.filter(wanted).order_by("pk").values_list("scheme_id", "periods"))
    periods = rows.get(scheme_id) if scheme_id else None
    if periods is None:
        periods = rows.get(None)
    return _parse(tuple(tuple(p) for p in (periods or DEFAULT_PERIODS)))


def calendar_load(scheme=None) -> None:
    """Read the calendar's rows (the days table, the scheme's working periods) into the process's cache now.
    A caller about to compute deadlines inside a transaction calls it first: a transaction reads through the
    cache but never fills it (`core.versioned`)."""
    _override_days()
    schedule_periods(scheme)


# --------------------------------------------------------------------------------------- deadlines

def _aware(day: dt.date, at: dt.time, tz=None) -> dt.datetime:
    """The instant `at` on `day` in `tz` (the current time zone when None), as `timezone.make_aware` gives it."""
    return dt.datetime.combine(day, at, tzinfo=tz or timezone.get_current_timezone())


def add_working_hours(start: dt.datetime, hours: float, *, periods: tuple[Period, ...]) -> dt.datetime:
    """The instant `hours` of working time after `start`, counting only inside working periods of
    working days. A start outside working time counts from the next working period."""
    remaining = dt.timedelta(hours=hours)
    if remaining < dt.timedelta(0):
        raise ValueError("hours must not be negative")
    local = timezone.localtime(start)
    table, tz = _override_days(), timezone.get_current_timezone()
    day = local.date()
    for _attempt in range(MAX_SEARCH_DAYS):
        if day_status(day, overrides=table)[0]:
            for begin, end in periods:
                p_start, p_end = _aware(day, begin, tz), _aware(day, end, tz)
                if p_end <= local:
                    continue
                available_from = max(p_start, local)
                span = p_end - available_from
                if remaining <= span:
                    return available_from + remaining if remaining else available_from
                remaining -= span
        day += dt.timedelta(days=1)
    raise ValueError("deadline more than ten years away: check the limit and the calendar")


def add_working_days(start: dt.datetime, days: int, *, periods: tuple[Period, ...]) -> dt.datetime:
    """The end of the working periods of the `days`-th working day after the start day (the start day
    itself is not counted, whatever the hour)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = timezone.localtime(start).date()
    if days == 0:
        day = next_workday(day, include=True)
    else:
        for _day in range(days):
            day = next_workday(day)
    return _aware(day, periods[-1][1])


def add_calendar_days(start: dt.datetime, days: int) -> dt.datetime:
    """The end (midnight) of the `days`-th day after the start day."""
    day = timezone.localtime(start).date() + dt.timedelta(days=days + 1)
    return _aware(day, dt.time.min)


def deadline(start: dt.datetime, amount: float, unit: str, *, scheme=None) -> dt.datetime:
    """When a time limit of `amount` `unit` that starts at `start` runs out."""
    if unit == LimitUnit.CLOCK_HOURS:
        return start + dt.timedelta(hours=amount)
    if unit == LimitUnit.CALENDAR_DAYS:
        return add_calendar_days(start, int(amount))
    periods = schedule_periods(scheme)
    if unit == LimitUnit.WORKING_HOURS:
        return add_working_hours(start, amount, periods=periods)
    if unit == LimitUnit.WORKING_DAYS:
        return add_working_days(start, int(amount), periods=periods)
    raise ValueError(f"unknown time-limit unit {unit!r}")


def working_seconds_between(start: dt.datetime, end: dt.datetime, *, scheme=None) -> float:
    """Working time (inside working periods of working days) between two instants, in seconds; used to
    tell how much of a working-hours limit is used."""
    if end <= start:
        return 0.0
    periods = schedule_periods(scheme)
    table, tz = _override_days(), timezone.get_current_timezone()
    total = 0.0
    day = timezone.localtime(start).date()
    last = timezone.localtime(end).date()
    while day <= last:
        if day_status(day, overrides=table)[0]:
            for begin, finish in periods:
                lo, hi = max(_aware(day, begin, tz), start), min(_aware(day, finish, tz), end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return total


def year_covered(year: int) -> bool:
    """Whether the year's holidays are known: bundled data, or at least one table row in that year."""
    return year in package_years() or CalendarDay.objects.filter(date__year=year).exists()
