"""The seed systems' stories, end to end through the services, each deployment differing only by its
configuration (grants, routing rules, duty lists, departments, policy) — never by code."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gridgov.accounts import services as account_services
from gridgov.accounts.models import Department, RoleCategory, Team
from gridgov.accounts.tests.factories import make_staff
from gridgov.cases.models import ActionGrant, CasePolicy, Channel, Notification, ReportIn, RoutingRule, SlaStatus
from gridgov.cases.services import case_evaluate, case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, matter, png, point_in
from gridgov.catalogue.admission import admission_apply, admission_decide, duty_list_create, duty_list_seed
from gridgov.territory import services as territory_services
from gridgov.territory.tests.factories import SINCE, level, square

MONDAY = dt.date(2026, 11, 23)  # a working day


def at(hh: int, mm: int, day: dt.date = MONDAY) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hh, mm)))


@pytest.fixture
def loop(scheme, tree):
    loop = make_loop(scheme, tree, rules=False)
    CasePolicy.objects.filter(scheme=scheme).update(verification_sample_share=0)
    return loop


def _unit(loop, name="3号单元"):
    g1 = loop.tree["g1"]
    x0, y0 = g1.geometry["coordinates"][0][0]
    return territory_services.node_create(level=level(loop.scheme, "microgrid"), parent=g1, name=name,
                                          auto_code=True, valid_from=SINCE,
                                          geometry=square(x0, y0, x0 + 0.01, y0 + 0.01))


def _resident(username="resident1"):
    return account_services.staff_user_create(username=username, password="Grid-demo-2026!", is_staff=False)


# =========================================================================== Licheng
def test_licheng_manhole_cover_self_handled_by_the_unit_leader_on_time(loop):
    """A resident reports a broken manhole cover at 12:16, the unit leader has it replaced by 12:31, the
    resident confirms at 13:58."""
    # given Licheng's configuration: unit leaders receive and handle reports in their unit, the water
    # department has pushed the manhole matter down to the grids (admitted), and the reporter confirms
    scheme = loop.scheme
    unit = _unit(loop)
    unit_leader_role = account_services.role_create(scheme=scheme, key="unit_leader", name_zh="单元长",
                                                    category=RoleCategory.GRID_WORKER, levels=("microgrid",))
    unit_leader = make_staff(unit, role=unit_leader_role)
    for action in ("register", "dispatch"):
        ActionGrant.objects.create(scheme=scheme, action=action, holder="ROLE", role=unit_leader_role,
                                   sees_reporter=True)
    CasePolicy.objects.filter(scheme=scheme).update(reporter_verifies=True)  # the resident confirms
    grid_list = duty_list_create(scheme=scheme, key="grid", name_zh="网格事项清单", duty_tier="GRID")
    request = admission_apply(actor=loop.handler, duty_list=grid_list, matter=matter("01001"),
                              department=loop.water, reason="井盖缺失由单元长第一时间处置")
    admission_decide(actor=loop.centre, request=request, approve=True)
    RoutingRule.objects.create(scheme=scheme, order=1, name="单元内事项由单元长处置", target="GRID_WORKER",
                               node=loop.tree["g1"])
    resident = _resident()
    lon, lat = point_in(unit)
    # when the resident reports at 12:16
    case = case_report(actor=resident, channel=Channel.RESIDENT, scheme=scheme, matter="01001", lon=lon, lat=lat,
                       description="小区门口井盖破损", photos=[png()], attributes={"problem": "damaged"},
                       at=at(12, 16)).case
    assert case.node == unit
    # and the unit leader takes it up, handles it himself and reports back at 12:31
    case = case_transition(case=case, actor=unit_leader, action="register", handling_mode="SELF", at=at(12, 18))
    case = case_transition(case=case, actor=unit_leader, action="dispatch", at=at(12, 18))
    assert case.assignee_user == unit_leader and case.routing_rule.name == "单元内事项由单元长处置"
    case = case_transition(case=case, actor=unit_leader, action="accept", at=at(12, 19))
    case = case_transition(case=case, actor=unit_leader, action="report_back", after_photos=[png((0, 200, 0))],
                           note="已更换井盖", at=at(12, 31))
    # and the resident confirms at 13:58
    case = case_transition(case=case, actor=resident, action="verify_pass", at=at(13, 58))
    case = case_evaluate(case=case, actor=resident, satisfaction=5, at=at(13, 58))
    # then it is closed, self-handled, every stage on time
    assert case.state == CaseState.EVALUATED and case.handling_mode == "SELF"
    assert case.reported_back_at - case.reported_at == dt.timedelta(minutes=15)
    assert case.closed_at == at(13, 58)
    assert all(s.status == SlaStatus.ON_TIME and s.completed_at <= s.due_at for s in case.stages.all())


def test_licheng_noise_dispute_from_the_police_to_the_dispute_group(loop):
    """A noise dispute reported to the police is passed to the dispute group, accepted in one click by the
    community officer and grid leader, mediated within one hour."""
    scheme = loop.scheme
    police_role = account_services.role_create(scheme=scheme, key="community_police", name_zh="社区民警",
                                               category=RoleCategory.POLICE, levels=("community",))
    officer = make_staff(loop.tree["community"], role=police_role)
    group = Department.objects.create(scheme=scheme, key="dispute", name_zh="矛盾纠纷调处组")
    team = Team.objects.create(department=group, name="白云寺村调处小组")
    team.members.add(officer, loop.worker)  # the community officer and the grid leader
    RoutingRule.objects.create(scheme=scheme, order=1, name="警情纠纷转调处组", channel=Channel.POLICE,
                               category=matter("10001").category, target="DEPARTMENT", department=group)
    lon, lat = point_in(loop.tree["g1"])
    # when the police transfer the dispute (the transferring officer owns it: 首问首办)
    case = case_report(actor=officer, channel=Channel.POLICE, matter="10001", lon=lon, lat=lat,
                       description="楼上装修噪音，邻里争吵", external_ref="JQ20261123-0042", at=at(10, 0)).case
    assert case.owner == officer
    case = case_transition(case=case, actor=officer, action="register", at=at(10, 1))
    case = case_transition(case=case, actor=officer, action="dispatch", at=at(10, 2))
    assert case.assignee_team == team and case.routing_rule.name == "警情纠纷转调处组"
    # and one member accepts in one click, and the dispute is mediated 50 minutes later
    case = case_transition(case=case, actor=loop.worker, action="accept", at=at(10, 4))
    case = case_transition(case=case, actor=officer, action="report_back", note="双方达成调解协议", at=at(10, 52))
    case = case_transition(case=case, actor=loop.office, action="verify_pass", at=at(11, 0))
    # then the one click was one action: between the dispatch and the mediation's report-back the only event is
    # the grid leader's accept (the officer, the group's other member, did not have to accept as well)
    kinds = list(case.events.order_by("seq").values_list("kind", "actor"))
    between = kinds[kinds.index(("dispatch", officer.pk)) + 1:kinds.index(("report_back", officer.pk))]
    assert between == [("accept", loop.worker.pk)]
    # and the mediation took under an hour, within the limit
    assert case.reported_back_at - case.dispatched_at < dt.timedelta(hours=1)
    assert case.stages.get().status == SlaStatus.ON_TIME and case.state == CaseState.CLOSED


# =========================================================================== Pinggu
def test_pinggu_three_three_front_meeting_whistle(loop):
    """三三制: general problems are handled at the front, complex ones in a meeting, hard ones by blowing
    the whistle; routine / urgent / major report levels with their own limits and audiences."""
    scheme = loop.scheme
    RoutingRule.objects.create(scheme=scheme, order=1, name="纠纷上村里", target="COMMUNITY",
                               category=matter("10001").category)
    RoutingRule.objects.create(scheme=scheme, order=2, name="水务", target="DEPARTMENT", department=loop.water,
                               category=matter("01002").category)
    lon, lat = point_in(loop.tree["g1"])
    # routine: the grid worker handles it at the front, on the spot
    front = case_report(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                        description="路边乱堆柴草，已清理", self_handled=True, before_photos=[png()],
                        after_photos=[png((0, 200, 0))]).case
    assert front.state == CaseState.CLOSED and front.report_level == "ROUTINE" and front.handling_mode == "SELF"
    # urgent: a complex dispute goes to the village, studied in a meeting, at half the routine limit
    meeting = case_report(actor=loop.worker, channel=Channel.PATROL, matter="10001", lon=lon, lat=lat,
                          report_level="URGENT", description="宅基地边界纠纷", at=at(9, 0)).case
    meeting = case_transition(case=meeting, actor=loop.office, action="register", at=at(9, 10))
    meeting = case_transition(case=meeting, actor=loop.office, action="dispatch", at=at(9, 10))
    assert meeting.assignee_node == loop.tree["community"]
    assert meeting.stages.get().due_at == at(11, 10)  # 4 working hours × 0.5
    meeting = case_transition(case=meeting, actor=loop.leader, action="accept", at=at(9, 20))
    meeting = case_transition(case=meeting, actor=loop.leader, action="comment", note="村两委会议研究处理方案",
                              at=at(10, 0))
    meeting = case_transition(case=meeting, actor=loop.leader, action="report_back", note="按会议方案调解",
                              at=at(11, 0))
    assert meeting.stages.get().status == SlaStatus.ON_TIME
    assert Notification.objects.filter(case=meeting, recipient=loop.office, kind="level_urgent").exists()
    # major: the hard one — the village blows the whistle, the town's departments report in
    hard = case_report(actor=loop.worker, channel=Channel.PATROL, matter="01002", lon=lon, lat=lat,
                       description="主供水管爆裂，路面塌陷", at=at(14, 0)).case
    assert hard.report_level == "MAJOR"
    hard = case_transition(case=hard, actor=loop.office, action="register", at=at(14, 5))
    hard = case_transition(case=hard, actor=loop.office, action="dispatch", at=at(14, 6))
    hard = case_transition(case=hard, actor=loop.leader, action="whistle", reason="村里解决不了，需镇里协调",
                           depth=loop.tree["street"].level.depth, departments=["water", "police"], at=at(14, 10))
    police_user = loop.police_team.members.get()
    case_transition(case=hard, actor=loop.handler, action="report_in", at=at(14, 25))
    case_transition(case=hard, actor=police_user, action="report_in", at=at(14, 40))
    rows = {r.department.key: (r.reported_by, r.reported_at) for r in ReportIn.objects.filter(escalation__case=hard)}
    assert rows == {"water": (loop.handler, at(14, 25)), "police": (police_user, at(14, 40))}
    assert Notification.objects.filter(case=hard, recipient=loop.office, kind="level_major").exists()


# =========================================================================== Luohu
def test_luohu_three_handling_modes_and_four_admitted_categories(loop):
    scheme = loop.scheme
    # Luohu's four admission categories; the department matters stay the departments' duty
    lists = {key: duty_list_create(scheme=scheme, key=key, name_zh=name, duty_tier="GRID", order=i)
             for i, (key, name) in enumerate([("info", "信息核采"), ("patrol", "网格巡查"), ("service", "社区服务"),
                                              ("coordination", "街社统筹")])}
    duty_list_seed(duty_list=lists["patrol"], matters=[matter("02001")], actor=loop.centre)
    duty_list_seed(duty_list=lists["coordination"], matters=[matter("10001")], actor=loop.centre)
    RoutingRule.objects.create(scheme=scheme, order=1, name="水务", target="DEPARTMENT", department=loop.water,
                               category=matter("01001").category)
    lon, lat = point_in(loop.tree["g1"])
    # 巡办合一: found and handled on the spot; sampled for verification when the policy says so
    CasePolicy.objects.filter(scheme=scheme).update(verification_sample_share=1)
    spot = case_report(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                       description="占道经营，已劝离", self_handled=True, before_photos=[png()],
                       after_photos=[png((0, 200, 0))]).case
    assert spot.state == CaseState.REPORTED_BACK and spot.events.filter(kind="sampled").exists()
    spot = case_transition(case=spot, actor=loop.office, action="verify_pass")
    assert spot.state == CaseState.CLOSED and spot.handling_mode == "SELF"
    # 巡办协同: the reporter fences the open manhole off, the water department does the rest
    joint = case_report(actor=loop.worker, channel=Channel.PATROL, matter="01001", lon=lon, lat=lat,
                        description="井盖缺失", photos=[png()], attributes={"problem": "missing"}).case
    joint = case_transition(case=joint, actor=loop.worker, action="partial_handle", before_photos=[png((9, 9, 9))],
                            note="已设置围挡警示")
    joint = case_transition(case=joint, actor=loop.office, action="register")
    joint = case_transition(case=joint, actor=loop.office, action="dispatch")
    assert joint.handling_mode == "COLLABORATIVE" and joint.assignee_team == loop.water_team
    # an attempt to give the department's matter to a grid worker is refused: it is not admitted
    with pytest.raises(Exception) as err:
        case_transition(case=joint, actor=loop.office, action="reroute", reason="试试网格员",
                        assignee={"kind": "GRID_WORKER"})
    assert "not on an admitted duty list" in str(err.value)
    # 巡办分离: a burst pipe is handed over to the department entirely
    handover = case_report(actor=loop.worker, channel=Channel.PATROL, matter="01002", lon=lon, lat=lat,
                           description="水管爆裂").case
    handover = case_transition(case=handover, actor=loop.office, action="register")
    handover = case_transition(case=handover, actor=loop.office, action="dispatch",
                               assignee={"kind": "DEPARTMENT", "department": "water"})
    assert handover.handling_mode == "HANDOVER" and handover.assignee_kind == "DEPARTMENT"


# =========================================================================== Haimen
def test_haimen_major_event_escalated_with_departments_reporting_in(loop):
    scheme = loop.scheme
    # Haimen's three duty lists
    own = duty_list_create(scheme=scheme, key="grid-self", name_zh="网格员自办事项清单", duty_tier="GRID")
    village = duty_list_create(scheme=scheme, key="village", name_zh="村(社区)办理事项清单", duty_tier="COMMUNITY")
    dept = duty_list_create(scheme=scheme, key="department", name_zh="部门办理事项清单", duty_tier="DEPARTMENT",
                            admits_to_grid=False)
    duty_list_seed(duty_list=own, matters=[matter("02001")], actor=loop.centre)
    duty_list_seed(duty_list=village, matters=[matter("10001")], actor=loop.centre)
    duty_list_seed(duty_list=dept, matters=[matter("01001"), matter("01002")], actor=loop.centre)
    CasePolicy.objects.filter(scheme=scheme).update(report_in_amount=1, report_in_unit="CLOCK_HOURS")
    micro = _unit(loop, name="宅前微网格")
    lon, lat = point_in(micro)
    # when a micro-grid's worker reports a major event
    case = case_report(actor=loop.worker, channel=Channel.PATROL, matter="01002", lon=lon, lat=lat,
                       description="河堤渗水，威胁农户", at=at(9, 0)).case
    case = case_transition(case=case, actor=loop.office, action="register", at=at(9, 5))
    # a grid worker cannot be given a department-list matter
    with pytest.raises(Exception) as err:
        case_transition(case=case, actor=loop.office, action="dispatch", assignee={"kind": "GRID_WORKER"},
                        at=at(9, 6))
    assert "not on an admitted duty list" in str(err.value)
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee={"kind": "COMMUNITY"},
                           at=at(9, 6))
    # and the village, unable to solve it, blows the whistle to the town naming two departments
    case = case_transition(case=case, actor=loop.leader, action="whistle", reason="需水利、公安联动",
                           depth=loop.tree["street"].level.depth, departments=["water", "police"], at=at(9, 15))
    escalation = case.escalations.get()
    assert escalation.node == loop.tree["street"] and escalation.report_in_due_at == at(10, 15)
    # then the water department reports in on time; the case records who reported in and when
    case_transition(case=case, actor=loop.handler, action="report_in", note="抢险队已出发", at=at(9, 40))
    rows = {r.department.key: r for r in ReportIn.objects.filter(escalation=escalation)}
    assert rows["water"].reported_by == loop.handler and rows["water"].reported_at == at(9, 40)
    assert rows["police"].reported_at is None
    # the police, called too, hear of it, and the street office (the whistle's level) does too
    assert Notification.objects.filter(case=case, kind="whistle",
                                       recipient=loop.police_team.members.get()).exists()
    assert Notification.objects.filter(case=case, kind="whistle", recipient=loop.office).exists()
    kinds = list(case.events.order_by("seq").values_list("kind", flat=True))
    assert kinds == ["report", "register", "dispatch", "whistle", "report_in"]
