"""`standings_for` (one read for a list page's cases) answers exactly as `user_standing` (one case at a
time) does, for every user of the loop and every stage a case can be in; and `actions_for` with what it
read offers the same buttons."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gridgov.cases.grants import Standing, actions_for, scheme_grants, standings_for, user_standing
from gridgov.cases.models import ActionGrant, Case, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, png, point_in

pytestmark = pytest.mark.django_db

WATER = {"kind": "DEPARTMENT", "department": "water"}


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _cases(loop) -> list[Case]:
    """A case in each stage: reported, registered, with the grid worker, accepted by the water team,
    reported back, sent back for rework, with a pending extension, whistled to the police."""
    def report(cell, matter="01001"):
        lon, lat = point_in(loop.tree[cell])
        return case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter=matter, lon=lon,
                           lat=lat, description="井盖丢了", photos=[png()],
                           attributes={"problem": "missing"} if matter == "01001" else None).case

    def act(case, actor, action, **kw):
        return case_transition(case=Case.objects.get(pk=case.pk), actor=actor, action=action, **kw)

    out = [report("g1"), act(report("g2"), loop.office, "register")]
    worker = act(report("g1", "02001"), loop.office, "register")
    out.append(act(worker, loop.office, "dispatch", assignee={"kind": "GRID_WORKER"}))
    water = act(act(act(report("g1"), loop.office, "register"), loop.office, "dispatch", assignee=WATER),
                loop.handler, "accept")
    out.append(water)
    back = act(water, loop.handler, "report_back", after_photos=[png((0, 200, 0))])
    out.append(back)
    rework = act(act(act(act(act(report("g2"), loop.office, "register"), loop.office, "dispatch", assignee=WATER),
                             loop.handler, "accept"), loop.handler, "report_back", after_photos=[png((0, 9, 0))]),
                 loop.office, "verify_fail", reason="还没修好")
    out.append(rework)
    out.append(act(rework, loop.handler, "request_extension", reason="等配件", amount=2, unit="CLOCK_HOURS"))
    community = act(act(report("g1", "10001"), loop.office, "register"), loop.office, "dispatch",
                    assignee={"kind": "COMMUNITY"})
    out.append(act(community, loop.leader, "whistle", reason="需要派出所", departments=["police"]))
    return [Case.objects.select_related("node").get(pk=c.pk) for c in out]


def _answers(standing: Standing) -> tuple:
    return (standing.holders, standing.handled_round, standing.handled_case, sorted(standing.roles))


def test_a_list_pages_standings_answer_as_one_case_at_a_time(loop):
    # given cases in every stage
    cases = _cases(loop)
    users = [loop.centre, loop.office, loop.leader, loop.worker, loop.worker2, loop.handler,
             loop.police_team.members.get()]
    for user in users:
        # when the standings of all cases are read at once
        many = standings_for(user, cases)
        # then each answers as the case's own standing does, and the same actions are offered
        grants = scheme_grants(c.scheme_id for c in cases)
        for case in cases:
            one = user_standing(user, case)
            assert _answers(many[case.pk]) == _answers(one), (user.username, case.state)
            assert actions_for(user, case, standing=many[case.pk], grants=grants[case.scheme_id]) == \
                actions_for(user, case), (user.username, case.state)


def test_the_standings_of_many_cases_take_a_fixed_number_of_queries(loop):
    cases = _cases(loop)
    for n in (2, len(cases)):
        with CaptureQueriesContext(connection) as ctx:
            many = standings_for(loop.handler, cases[:n])
            for standing in many.values():
                _answers(standing)
        # assigned, called to report in, the settings' counters and the assignments (not kept inside a
        # transaction), events; CENTRE reads no row for a handler
        assert len(ctx.captured_queries) == 5, n
    with CaptureQueriesContext(connection) as ctx:
        grants = scheme_grants({loop.scheme.pk})
    assert len(ctx.captured_queries) == 2  # the settings' counters, and the grants (not kept inside a transaction)
    assert {g.pk for g in grants[loop.scheme.pk]} == set(
        ActionGrant.objects.filter(scheme__in=[None, loop.scheme]).values_list("pk", flat=True)) | set(
        ActionGrant.objects.filter(scheme__isnull=True).values_list("pk", flat=True))


def test_an_inactive_user_stands_nowhere(loop):
    cases = _cases(loop)[:2]
    loop.worker.is_active = False
    many = standings_for(loop.worker, cases)
    assert all(not s.holders and not s.handled_round for s in many.values())
