"""Routing rules: order, conditions, targets; predicted completion from the median in the area."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from gridgov.cases.models import Channel, RoutingRule
from gridgov.cases.routing import case_route
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, matter, point_in
from gridgov.territory.tests.factories import square


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree, rules=False)


def _case(loop, *, cell="g1", matter_code="10001", channel=Channel.HOTLINE, at=None):
    lon, lat = point_in(loop.tree[cell])
    return case_report(actor=loop.office, channel=channel, matter=matter_code, lon=lon, lat=lat,
                       description="测试", at=at).case


def test_first_matching_rule_wins(loop):
    # given three rules, the narrow one (grid 2) before the broad one
    g2_rule = RoutingRule.objects.create(scheme=loop.scheme, order=1, name="二网格纠纷给派出所", node=loop.tree["g2"],
                                         target="DEPARTMENT", department=loop.police)
    RoutingRule.objects.create(scheme=loop.scheme, order=2, name="纠纷给社区", target="COMMUNITY",
                               category=matter("10001").category)
    RoutingRule.objects.create(scheme=loop.scheme, order=3, name="兜底", target="GRID_WORKER")
    # then a dispute in grid 2 goes to the police team, one in grid 1 to the community
    rule, who = case_route(_case(loop, cell="g2"))
    assert rule == g2_rule and who.team == loop.police_team
    rule, who = case_route(_case(loop, cell="g1"))
    assert rule.name == "纠纷给社区" and who.node == loop.tree["community"]
    rule, who = case_route(_case(loop, cell="g1", matter_code="02001"))
    assert rule.name == "兜底" and who.user == loop.worker


def test_conditions_on_channel_level_polygon_and_night_window(loop):
    x0, y0 = loop.tree["g1"].geometry["coordinates"][0][0]
    RoutingRule.objects.create(scheme=loop.scheme, order=1, name="夜间水务", target="DEPARTMENT", department=loop.water,
                               time_from=dt.time(22, 0), time_to=dt.time(6, 0))
    RoutingRule.objects.create(scheme=loop.scheme, order=2, name="警情", channel=Channel.POLICE, target="DEPARTMENT",
                               department=loop.police)
    RoutingRule.objects.create(scheme=loop.scheme, order=3, name="重大事件", report_level="MAJOR",
                               target="DEPARTMENT", department=loop.water)
    RoutingRule.objects.create(scheme=loop.scheme, order=4, name="西南角", target="COMMUNITY",
                               polygon=square(x0, y0, x0 + 0.02, y0 + 0.02))
    RoutingRule.objects.create(scheme=loop.scheme, order=5, name="其余", target="GRID_WORKER")
    night = timezone.make_aware(dt.datetime(2026, 11, 23, 23, 30))
    day = timezone.make_aware(dt.datetime(2026, 11, 23, 10, 0))
    case = _case(loop)
    assert case_route(case, at=night)[0].name == "夜间水务"
    assert case_route(case, at=timezone.make_aware(dt.datetime(2026, 11, 24, 5, 59)))[0].name == "夜间水务"
    assert case_route(_case(loop, channel=Channel.POLICE), at=day)[0].name == "警情"
    assert case_route(_case(loop, matter_code="01002"), at=day)[0].name == "重大事件"
    corner = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="10001", lon=x0 + 0.01, lat=y0 + 0.01,
                         description="角落").case
    assert case_route(corner, at=day)[0].name == "西南角"
    assert case_route(case, at=day)[0].name == "其余"


def test_no_rule_matching_asks_for_a_handler(loop):
    case = case_transition(case=_case(loop), actor=loop.office, action="register")
    with pytest.raises(ValidationError) as err:
        case_transition(case=case, actor=loop.office, action="dispatch")
    assert "assignee" in err.value.message_dict


def test_predicted_completion_is_the_median_in_the_area(loop):
    RoutingRule.objects.create(scheme=loop.scheme, order=1, name="社区", target="COMMUNITY")
    start = timezone.make_aware(dt.datetime(2026, 11, 2, 9, 0))
    for hours in (1, 3, 8):  # three closed disputes in grid 1, dispatch → close
        case = _case(loop, at=start)
        case = case_transition(case=case, actor=loop.office, action="register", at=start)
        case = case_transition(case=case, actor=loop.office, action="dispatch", at=start)
        case = case_transition(case=case, actor=loop.leader, action="accept", at=start)
        case = case_transition(case=case, actor=loop.leader, action="report_back", at=start)
        case_transition(case=case, actor=loop.office, action="verify_pass", at=start + dt.timedelta(hours=hours))
    now = timezone.make_aware(dt.datetime(2026, 11, 23, 9, 0))
    new = case_transition(case=_case(loop, at=now), actor=loop.office, action="register", at=now)
    new = case_transition(case=new, actor=loop.office, action="dispatch", at=now)
    assert new.predicted_at == now + dt.timedelta(hours=3)
    # no history for this matter: no prediction
    other = case_transition(case=_case(loop, matter_code="02001", at=now), actor=loop.office, action="register")
    other = case_transition(case=other, actor=loop.office, action="dispatch", assignee={"kind": "COMMUNITY"})
    assert other.predicted_at is None
