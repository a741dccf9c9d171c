"""The key figures against the week of scenario.py, counted by hand (the table at the top of that file).
Runs the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from gridgov.cases.models import Case
from gridgov.cases.selectors import case_scope
from gridgov.dashboard import kpi
from gridgov.dashboard.kpi import Figures, Period
from gridgov.dashboard.tests.scenario import WEEK, local

pytestmark = pytest.mark.django_db

# the whole week in the community (reported A B C D F G J K; registered A B C D F K; closed A B C E F,
# C late, B reworked; handling 25 + 3 + 73 + 68.5 + 1 hours; rated A 5, C 3)
WEEK_FIGURES = Figures(reported=8, registered=6, closed=5, closed_on_time=4, reworked=1, handling_hours=34.1,
                       rated=2, satisfaction=4.0)


def _week():
    return Period.of_days(*WEEK)


def test_period_of_days_runs_from_local_midnight_to_local_midnight():
    # given / when
    period = Period.of_days(dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    # then the Shanghai week is [Sunday 16:00 UTC, the next Sunday 16:00 UTC)
    assert period.start == dt.datetime(2026, 11, 22, 16, tzinfo=dt.UTC)
    assert period.end == dt.datetime(2026, 11, 29, 16, tzinfo=dt.UTC)


def test_figures_of_the_week(week, django_assert_num_queries):
    # given the hand-counted week
    # when the figures are counted over every case
    with django_assert_num_queries(1):
        figures = kpi.kpi_figures(Case.objects.all(), _week())
    # then each matches the hand count
    assert figures == WEEK_FIGURES
    assert figures.closure_rate == pytest.approx(5 / 6)
    assert figures.on_time_rate == pytest.approx(4 / 5)
    assert figures.rework_rate == pytest.approx(1 / 5)


def test_a_part_of_the_week_counts_only_its_own_timestamps(week):
    # given Monday alone: A, B, D reported (D at 00:30 local, still Sunday in UTC); A, B registered;
    # B and E closed (B reworked, 3 h; E 68.5 h)
    # when
    figures = kpi.kpi_figures(Case.objects.all(), Period.of_days(dt.date(2026, 11, 23), dt.date(2026, 11, 23)))
    # then
    assert figures == Figures(reported=3, registered=2, closed=2, closed_on_time=2, reworked=1,
                              handling_hours=35.75, rated=0, satisfaction=None)
    assert figures.closure_rate == 1.0 and figures.rework_rate == 0.5


def test_a_period_with_nothing_has_no_rates(week):
    # given a week long before any case
    # when
    figures = kpi.kpi_figures(Case.objects.all(), Period.of_days(dt.date(2025, 1, 6), dt.date(2025, 1, 12)))
    # then counts are zero and rates and means are undefined, not zero
    assert figures == Figures()
    assert (figures.closure_rate, figures.on_time_rate, figures.rework_rate) == (None, None, None)
    assert figures.handling_hours is None and figures.satisfaction is None


def test_by_child_of_the_community(week, tree, django_assert_max_num_queries):
    # given / when
    with django_assert_max_num_queries(2):
        rows = kpi.kpi_by_child(Case.objects.all(), _week(), node=tree["community"])
    # then g1 holds A C F G K, g2 holds B D (and E closed), the community itself J
    assert [(r.key, r.label) for r in rows] == [(tree["g1"].pk, "一网格"), (tree["g2"].pk, "二网格"),
                                                (None, "白云寺村 itself")]
    g1, g2, rest = (r.figures for r in rows)
    assert g1 == Figures(reported=5, registered=4, closed=3, closed_on_time=2, reworked=0, handling_hours=33.0,
                         rated=2, satisfaction=4.0)
    assert g2 == Figures(reported=2, registered=2, closed=2, closed_on_time=2, reworked=1, handling_hours=35.75,
                         rated=0, satisfaction=None)
    assert rest == Figures(reported=1)


def test_by_child_higher_up_sums_the_subtree_and_lists_empty_children(week, tree, loop):
    from gridgov.territory import services
    from gridgov.territory.tests.factories import SINCE, level

    # given a second, empty street in the district
    empty = services.node_create(level=level(loop.scheme, "street"), parent=tree["district"], name="空街道",
                                 code="110117214000", valid_from=SINCE)
    # when the district is broken down by street
    rows = kpi.kpi_by_child(Case.objects.all(), _week(), node=tree["district"])
    # then the street holds the whole week and the empty street is listed with zeros
    assert {r.key: r.figures for r in rows} == {tree["street"].pk: WEEK_FIGURES, empty.pk: Figures()}


def test_by_category(week, django_assert_max_num_queries):
    # given / when
    with django_assert_max_num_queries(2):
        rows = kpi.kpi_by_category(Case.objects.all(), _week())
    # then 01 holds A D, 02 holds B C E F G K, 10 holds J
    by_code = {r.label.split()[0]: r.figures for r in rows}
    assert by_code == {
        "01": Figures(reported=2, registered=2, closed=1, closed_on_time=1, reworked=0, handling_hours=25.0, rated=1,
                      satisfaction=5.0),
        "02": Figures(reported=5, registered=4, closed=4, closed_on_time=3, reworked=1, handling_hours=36.375,
                      rated=1, satisfaction=3.0),
        "10": Figures(reported=1),
    }


def test_by_department(week, loop, django_assert_max_num_queries):
    # given / when
    with django_assert_max_num_queries(2):
        rows = kpi.kpi_by_department(Case.objects.all(), _week())
    # then the water team holds A and D; everything else is with grid workers or not dispatched
    assert [(r.key, r.label) for r in rows] == [(loop.water.pk, "区水务局"), (None, "Not with a department")]
    assert rows[0].figures == Figures(reported=2, registered=2, closed=1, closed_on_time=1, handling_hours=25.0,
                                      rated=1, satisfaction=5.0)
    assert rows[1].figures == Figures(reported=6, registered=4, closed=4, closed_on_time=3, reworked=1,
                                      handling_hours=36.375, rated=1, satisfaction=3.0)


def test_by_day_each_figure_in_the_bucket_of_its_own_time(week, django_assert_num_queries):
    # given / when
    with django_assert_num_queries(3):
        rows = kpi.kpi_by_period(Case.objects.all(), _week(), unit="day")
    # then seven local days, quiet ones with zeros
    assert [r.key for r in rows] == [dt.date(2026, 11, d) for d in range(23, 30)]
    by_day = {r.key.day: r.figures for r in rows}
    assert by_day[23] == Figures(reported=3, registered=2, closed=2, closed_on_time=2, reworked=1,
                                 handling_hours=35.75)
    assert by_day[24] == Figures(reported=1, registered=1, closed=1, closed_on_time=1, handling_hours=25.0, rated=1,
                                 satisfaction=5.0)
    assert by_day[25] == Figures(reported=1, registered=2, closed=1, closed_on_time=1, handling_hours=1.0)
    assert by_day[26] == Figures(reported=2)
    assert by_day[27] == Figures(reported=1, registered=1, closed=1, closed_on_time=0, handling_hours=73.0, rated=1,
                                 satisfaction=3.0)
    assert by_day[28] == by_day[29] == Figures()


def test_by_week_and_month(week):
    # given / when
    weeks = kpi.kpi_by_period(Case.objects.all(), _week(), unit="week")
    months = kpi.kpi_by_period(Case.objects.all(), _week(), unit="month")
    # then one Monday-started week and one month, each holding the whole week
    assert [(r.key, r.figures) for r in weeks] == [(dt.date(2026, 11, 23), WEEK_FIGURES)]
    assert [(r.key, r.label, r.figures) for r in months] == [(dt.date(2026, 11, 1), "2026-11", WEEK_FIGURES)]


def test_weeks_split_at_monday_in_local_time(week):
    # given Sunday 22nd to Wednesday 25th: H (Sunday 23:30 local) falls in the week of the 16th
    period = Period.of_days(dt.date(2026, 11, 22), dt.date(2026, 11, 25))
    # when
    rows = kpi.kpi_by_period(Case.objects.all(), period, unit="week")
    # then
    assert [(r.key, r.figures.reported) for r in rows] == [(dt.date(2026, 11, 16), 1), (dt.date(2026, 11, 23), 5)]


def test_satisfaction_scores(week, django_assert_num_queries):
    # given / when
    with django_assert_num_queries(1):
        counts = kpi.kpi_satisfaction(Case.objects.all(), _week())
    # then A was rated 5 and C 3
    assert counts == {1: 0, 2: 0, 3: 1, 4: 0, 5: 1}


def test_a_reopened_case_is_not_closed_until_closed_again(week, loop):
    from gridgov.cases.services import case_evaluate, case_transition

    # given B, closed on Monday, rated 1 on Tuesday (which reopens it: reworked again)
    b = week["B"]
    b.refresh_from_db()
    case_evaluate(case=b, actor=loop.office, satisfaction=1, at=local(24, 9))
    # when the week is counted
    reopened = kpi.kpi_figures(Case.objects.all(), _week())
    # and again once it is reported back and closed on Thursday
    b = case_transition(case=b.pk, actor=loop.worker2, action="report_back", at=local(26, 9))
    case_transition(case=b, actor=loop.office, action="verify_pass", at=local(26, 10))
    closed_again = kpi.kpi_figures(Case.objects.all(), _week())
    monday = kpi.kpi_figures(Case.objects.all(), Period.of_days(dt.date(2026, 11, 23), dt.date(2026, 11, 23)))
    # then while reopened it is not closed; closed again it counts on Thursday, reworked, rated 1, 72 h
    assert (reopened.closed, reopened.reworked, reopened.rated) == (4, 0, 2)
    assert (closed_again.closed, closed_again.reworked, closed_again.rated) == (5, 1, 3)
    assert closed_again.handling_hours == pytest.approx((25 + 72 + 73 + 68.5 + 1) / 5)
    assert closed_again.satisfaction == pytest.approx(3.0)
    assert monday.closed == 1


def test_scoped_queryset_counts_only_what_the_user_sees(week, loop):
    # given grid worker 2, who sees g2 (B D E H) and the cases they take part in
    cases = case_scope(Case.objects.all(), loop.worker2)
    # when
    figures = kpi.kpi_figures(cases, _week())
    # then only g2's figures
    assert figures == Figures(reported=2, registered=2, closed=2, closed_on_time=2, reworked=1, handling_hours=35.75)


def test_unknown_period_unit_is_refused():
    with pytest.raises(ValueError):
        kpi.kpi_by_period(Case.objects.none(), _week(), unit="year")
