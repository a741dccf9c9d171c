"""Working days, working hours and the four time-limit units; the table beats the statutory data."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from gridgov.workdays import services
from gridgov.workdays.calendar import (
    LimitUnit,
    add_working_days,
    add_working_hours,
    day_status,
    deadline,
    is_workday,
    working_seconds_between,
)
from gridgov.workdays.checks import calendar_next_year
from gridgov.workdays.models import DEFAULT_PERIODS

PERIODS = tuple((dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in DEFAULT_PERIODS)


def at(y, m, d, hh=0, mm=0) -> dt.datetime:
    return timezone.make_aware(dt.datetime(y, m, d, hh, mm))


# ------------------------------------------------------------------------------------------------ days
@pytest.mark.django_db
def test_statutory_holidays_and_swapped_working_days():
    assert day_status(dt.date(2026, 10, 1))[:2] == (False, "National Day")
    assert day_status(dt.date(2026, 2, 14)) == (True, "Spring Festival", "statutory")  # a Saturday worked
    assert day_status(dt.date(2026, 11, 21)) == (False, "", "statutory")  # an ordinary Saturday
    assert day_status(dt.date(2031, 3, 3)) == (True, "", "weekday rule")  # beyond the package: Monday–Friday


@pytest.mark.django_db
def test_the_table_overrides_the_package_and_covers_new_years():
    # given 2027's arrangement entered for one day, and a local exception in 2026
    services.calendar_day_set(date=dt.date(2027, 10, 1), is_workday=False, name="国庆节")
    services.calendar_day_set(date=dt.date(2026, 11, 23), is_workday=False, name="local flood day")
    # then
    assert day_status(dt.date(2027, 10, 1)) == (False, "国庆节", "table")
    assert not is_workday(dt.date(2026, 11, 23))
    assert not [w for w in calendar_next_year(None) if "2027" in w.msg]


@pytest.mark.django_db
def test_a_day_asked_about_before_its_table_row_was_entered_reads_the_row_after():
    # given a day whose statutory status the process has already worked out (and kept)
    day = dt.date(2026, 11, 24)
    assert day_status(day) == (True, "", "statutory")
    # when the table names it a day off, then the table wins at once
    services.calendar_day_set(date=day, is_workday=False, name="local flood day")
    assert day_status(day) == (False, "local flood day", "table")
    assert deadline(at(2026, 11, 23, 17, 0), 1, LimitUnit.WORKING_DAYS) == at(2026, 11, 25, 17, 30)


@pytest.mark.django_db
def test_the_kept_statutory_status_is_the_packages_for_every_covered_day():
    import chinese_calendar

    from gridgov.workdays.calendar import package_years

    day, last = dt.date(package_years()[0], 1, 1), dt.date(package_years()[-1], 12, 31)
    while day <= last:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        workday = chinese_calendar.is_workday(day)
        expected_name = "" if not workday and not on_holiday else (
            (name or "调休上班") if workday and day.weekday() >= 5 else (name or ""))
        assert day_status(day) == day_status(day) == (workday, expected_name, "statutory"), day
        day += dt.timedelta(days=1)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/New_York"])
def test_a_working_periods_instant_is_the_one_make_aware_gives(zone):
    from gridgov.workdays.calendar import _aware

    with timezone.override(zone):
        for day in (dt.date(2026, 3, 8), dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2026, 11, 1)):
            for moment in (dt.time(0, 0), dt.time(2, 30), dt.time(8, 30), dt.time(17, 30)):
                assert _aware(day, moment) == timezone.make_aware(dt.datetime.combine(day, moment)), (day, moment)
                assert _aware(day, moment).utcoffset() == timezone.make_aware(
                    dt.datetime.combine(day, moment)).utcoffset()


@pytest.mark.django_db
def test_system_check_warns_when_next_year_is_missing(settings):
    years = {timezone.localdate().year + 1}
    warnings = [w for w in calendar_next_year(None) if w.id == "workdays.W001"]
    assert any(str(y) in w.msg for w in warnings for y in years) or all(
        day_status(dt.date(y, 1, 5))[2] != "weekday rule" for y in years)


@pytest.mark.django_db
def test_a_year_imports_from_csv_all_or_nothing(tmp_path):
    good = tmp_path / "2027.csv"
    good.write_text("date,is_workday,name\n2027-02-06,休息,春节\n2027-02-13,上班,调休上班\n", encoding="utf-8")
    call_command("calendar_year", "2027", str(good), stdout=__import__("io").StringIO())
    assert day_status(dt.date(2027, 2, 13)) == (True, "调休上班", "table")
    bad = tmp_path / "bad.csv"
    bad.write_text("date,is_workday,name\n2027-05-01,休息,劳动节\n2027-13-01,休息,x\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="line 3: not a date"):
        services.calendar_file_import(path=bad, year=2027)
    assert day_status(dt.date(2027, 5, 1))[2] == "weekday rule"  # nothing of the bad file stayed


# ------------------------------------------------------------------------------------------- deadlines
@pytest.mark.django_db
def test_the_four_units_across_national_day():
    # a report at 16:00 on Wednesday 2026-09-30, the eve of the National Day week (1–7 Oct off, 10 Oct worked)
    start = at(2026, 9, 30, 16, 0)
    assert deadline(start, 3, LimitUnit.CLOCK_HOURS) == at(2026, 9, 30, 19, 0)
    assert deadline(start, 2, LimitUnit.CALENDAR_DAYS) == at(2026, 10, 3)
    # 1.5 h left on the 30th, then the next working period is 08:30 on Thursday 8 October
    assert deadline(start, 3, LimitUnit.WORKING_HOURS) == at(2026, 10, 8, 10, 0)
    # working days: 8, 9 (Fri), 10 (swapped Saturday)
    assert deadline(start, 3, LimitUnit.WORKING_DAYS) == at(2026, 10, 10, 17, 30)
    assert working_seconds_between(start, at(2026, 10, 8, 10, 0)) == 3 * 3600


@pytest.mark.django_db
def test_a_deployments_working_hours():
    from gridgov.territory.tests.factories import make_scheme

    scheme = make_scheme()
    services.schedule_set(scheme=scheme, periods=[["09:00", "12:00"], ["14:00", "18:00"]])
    start = at(2026, 11, 23, 11, 0)  # Monday
    assert deadline(start, 2, LimitUnit.WORKING_HOURS, scheme=scheme) == at(2026, 11, 23, 15, 0)
    assert deadline(start, 2, LimitUnit.WORKING_HOURS) == at(2026, 11, 23, 14, 30)  # default 08:30–12:00, 13:30–
    with pytest.raises(ValidationError, match="overlaps"):
        services.schedule_set(scheme=scheme, periods=[["09:00", "12:00"], ["11:00", "18:00"]])


class WorkingTimeProperties(HypothesisTestCase):
    """Adding working time never lands outside working time, and counts exactly what it added."""

    @settings(max_examples=150, deadline=None)
    @given(start=st.datetimes(min_value=dt.datetime(2025, 12, 20), max_value=dt.datetime(2027, 1, 10)),
           minutes=st.integers(min_value=1, max_value=60 * 8 * 30))
    def test_working_hours_land_in_working_time(self, start, minutes):
        begin = timezone.make_aware(start)
        end = add_working_hours(begin, minutes / 60, periods=PERIODS)
        local = timezone.localtime(end)
        assert is_workday(local.date())
        assert any(dt.datetime.combine(local.date(), a) < local.replace(tzinfo=None) <= dt.datetime.combine(
            local.date(), b) for a, b in PERIODS)
        assert abs(working_seconds_between(begin, end) - minutes * 60) < 1e-6

    @settings(max_examples=100, deadline=None)
    @given(start=st.datetimes(min_value=dt.datetime(2025, 12, 20), max_value=dt.datetime(2027, 1, 10)),
           days=st.integers(min_value=0, max_value=30))
    def test_working_days_land_on_working_days(self, start, days):
        end = add_working_days(timezone.make_aware(start), days, periods=PERIODS)
        local = timezone.localtime(end)
        assert is_workday(local.date()) and local.time() == PERIODS[-1][1]
        assert local.date() >= start.date()
