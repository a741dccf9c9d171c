"""System check: warn when the working-day calendar does not know next year's holidays yet."""

from __future__ import annotations

from django.core.checks import Warning as CheckWarning
from django.core.checks import register
from django.db import DatabaseError
from django.utils import timezone


@register("gridgov")
def calendar_next_year(app_configs, **kwargs):
    from gridgov.workdays.calendar import year_covered

    year = timezone.localdate().year
    missing = []
    try:
        missing = [y for y in (year, year + 1) if not year_covered(y)]
    except DatabaseError:  # not migrated yet: nothing to check
        return []
    return [CheckWarning(
        f"the working-day calendar has no holidays for {y}: until they are entered (admin → calendar days, or "
        f"`manage.py calendar_year {y} file.csv`), deadlines count Monday–Friday as working days",
        hint="The State Council publishes next year's holiday arrangement around November; enter it as calendar "
             "days (rest days and swapped working days).",
        id="workdays.W001") for y in missing]
