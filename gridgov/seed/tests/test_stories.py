"""Seed stories run on the shipped profile, loaded with `load_profile` at a small scale: the profile's own
territory, people in charge, demo logins, grants and routing rules carry the story; the test adds nothing
but the case."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from gridgov.accounts import services as account_services
from gridgov.accounts.models import Assignment, Department
from gridgov.cases.models import AssigneeKind, CasePolicy, CaseState, Channel, Notification, ReportIn, SlaStatus
from gridgov.cases.services import case_evaluate, case_report, case_transition
from gridgov.cases.tests.factories import png
from gridgov.catalogue.models import AdmissionRequest, DutyList, Matter
from gridgov.seed.demo_cases import _answers, _point
from gridgov.seed.profiles import licheng, xiangyang
from gridgov.territory.models import ChangeKind, LevelScheme, NodeVersion
from gridgov.workdays.calendar import deadline

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 11, 23)  # a working day


def at(hh: int, mm: int, day: dt.date = MONDAY) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hh, mm)))


def load(key: str, scale: float) -> LevelScheme:
    call_command("load_profile", key, "--scale", str(scale), stdout=io.StringIO(), stderr=io.StringIO())
    return LevelScheme.objects.get(key=key)


# =========================================================================== Xiangyang
def test_xiangyang_a_case_in_a_moved_estate_reaches_the_new_communitys_worker_dispatched_by_the_street():
    """Seed 002: 56 插花地 estates were handed over (2020-12-31) to the community they lie in. A resident's
    report from such an estate goes to the grid worker of that estate, now under its new community, and the
    street grid centre dispatches it."""
    # given Xiangyang loaded small, and one of its moved estates: the grid login's estate
    scheme = load("xiangyang", 0.05)
    users = get_user_model().objects
    worker, street = users.get(username="xiangyang_grid1"), users.get(username="xiangyang_street")
    estate = Assignment.objects.current(MONDAY).get(person__user=worker, role__key="grid_worker").node
    move = NodeVersion.objects.get(node=estate, change=ChangeKind.MOVE)
    before = NodeVersion.objects.filter(node=estate, valid_to=move.valid_from).get()
    assert move.valid_from == xiangyang.MOVE_DATE and move.reason == "插花地小区移交"
    assert estate.parent == move.parent != before.parent  # it now belongs to the community it lies in
    # the street centre's dispatcher is staff of the estate's street
    street_cell = Assignment.objects.current(MONDAY).get(person__user=street, role__key="grid_centre_staff").node
    assert estate.parent.parent == street_cell
    matter = Matter.objects.filter(catalogue__key="default", duty_tier="GRID", active=True).order_by("code").first()
    rng = random.Random("xiangyang-story")
    lon, lat = _point(rng, estate)
    # when a resident reports from the estate at 09:00
    case = case_report(actor=None, channel=Channel.RESIDENT, scheme=scheme, matter=matter, lon=lon, lat=lat,
                       description="小区楼道堆放杂物", photos=[png()], attributes=_answers(rng, matter),
                       at=at(9, 0)).case
    # and the street centre registers and dispatches it at 09:10
    case = case_transition(case=case, actor=street, action="register", at=at(9, 10))
    case = case_transition(case=case, actor=street, action="dispatch", at=at(9, 10))
    # then the case lies in the moved estate and the profile's routing gives it to that estate's worker
    assert case.node == estate and f"/{move.parent_id}/" in case.node.path
    assert (case.assignee_kind, case.assignee_user) == (AssigneeKind.GRID_WORKER, worker)
    assert case.routing_rule is not None and case.routing_rule.target == AssigneeKind.GRID_WORKER
    # and the worker accepts and reports back within the stage's limit
    case = case_transition(case=case, actor=worker, action="accept", at=at(9, 20))
    case = case_transition(case=case, actor=worker, action="report_back", after_photos=[png((0, 200, 0))],
                           note="已清理", at=at(10, 0))
    assert case.state == CaseState.REPORTED_BACK
    events = list(case.events.order_by("seq").values_list("kind", "actor__username"))
    assert events == [("report", None), ("register", "xiangyang_street"), ("dispatch", "xiangyang_street"),
                      ("accept", "xiangyang_grid1"), ("report_back", "xiangyang_grid1")]
    stage = case.stages.get()
    assert stage.status == SlaStatus.ON_TIME and stage.completed_at == at(10, 0) <= stage.due_at


# =========================================================================== Licheng
def _cell_of(user, role: str):
    """The first cell (by code) where the demo login holds the role."""
    return (Assignment.objects.current(MONDAY).filter(person__user=user, role__key=role)
            .select_related("node").order_by("node__code").first().node)


def _department(scheme: LevelScheme, name_zh: str) -> Department:
    return Department.objects.get(scheme=scheme, name_zh=name_zh)


def test_licheng_manhole_cover_self_handled_by_the_unit_leader_on_time():
    """Seed 001: 5月11日 12:16 a resident posts that the sewage manhole cover at his door is broken; the unit
    leader has it replaced by 12:31; at 13:58 the resident sees the new cover and thanks him."""
    # given Licheng loaded small: unit leaders register and dispatch what is reported in their unit, the water
    # bureau has pushed its manhole matter down to the grids, and the resident who reported confirms the fix
    scheme = load("licheng", 0.05)
    users = get_user_model().objects
    unit_leader = users.get(username="licheng_unit")
    unit = _cell_of(unit_leader, "unit_leader")
    matter = Matter.objects.get(catalogue__key="default", code=licheng.MANHOLE)
    water = _department(scheme, "区水务局")
    request = AdmissionRequest.objects.get(duty_list__scheme=scheme, duty_list__key="grid", matter=matter)
    assert (request.department, request.applied_by.username, request.decided_by.username) == (
        water, "licheng_dept", "licheng_admin")
    # the resident (a public login of the report page, not staff) is the one thing outside the profile
    resident = account_services.staff_user_create(username="dongmei_resident", password="Grid-demo-2026!",
                                                  is_staff=False)
    rng = random.Random("licheng-manhole")
    lon, lat = _point(rng, unit)
    # when the resident reports at 12:16
    case = case_report(actor=resident, channel=Channel.RESIDENT, scheme=scheme, matter=matter, lon=lon, lat=lat,
                       description="20号楼107室门口污水井盖破损严重，快塌下去了", photos=[png()],
                       attributes=_answers(rng, matter), at=at(12, 16)).case
    assert case.node == unit
    # and the unit leader takes it up, dispatches it to himself, has it replaced and reports back at 12:31
    case = case_transition(case=case, actor=unit_leader, action="register", handling_mode="SELF", at=at(12, 17))
    case = case_transition(case=case, actor=unit_leader, action="dispatch", at=at(12, 17))
    assert case.assignee_user == unit_leader and case.routing_rule.name == "镇海街道井盖由单元长处置"
    case = case_transition(case=case, actor=unit_leader, action="accept", at=at(12, 18))
    case = case_transition(case=case, actor=unit_leader, action="report_back", after_photos=[png((0, 200, 0))],
                           note="已更换新井盖", at=at(12, 31))
    # and the resident confirms at 13:58
    case = case_transition(case=case, actor=resident, action="verify_pass", at=at(13, 58))
    case = case_evaluate(case=case, actor=resident, satisfaction=5, at=at(13, 58))
    # then it is closed, self-handled, every stage on time, each step by the seed's actor at the seed's time
    assert case.state == CaseState.EVALUATED and case.handling_mode == "SELF"
    assert (case.reported_at, case.reported_back_at, case.closed_at) == (at(12, 16), at(12, 31), at(13, 58))
    events = list(case.events.order_by("seq").values_list("kind", "actor__username", "at"))
    assert events == [("report", "dongmei_resident", at(12, 16)), ("register", "licheng_unit", at(12, 17)),
                      ("dispatch", "licheng_unit", at(12, 17)), ("accept", "licheng_unit", at(12, 18)),
                      ("report_back", "licheng_unit", at(12, 31)), ("verify_pass", "dongmei_resident", at(13, 58)),
                      ("evaluate", "dongmei_resident", at(13, 58))]
    assert all(s.status == SlaStatus.ON_TIME and s.completed_at <= s.due_at for s in case.stages.all())


def test_licheng_noise_dispute_from_the_police_to_the_dispute_group_taken_in_one_click():
    """Seed 001: 4月13日 a noise quarrel between neighbours is reported to the police; the officer passes it to
    the dispute group (纠纷流转群), the community officer and the grid leader take it in one click, and it is
    mediated within the hour."""
    # given Licheng loaded small: the police channel's disputes go to the street's dispute group, whose members
    # are the community's police officer and the grid leader
    scheme = load("licheng", 0.05)
    users = get_user_model().objects
    officer, leader = users.get(username="licheng_police"), users.get(username="licheng_leader")
    group = Department.objects.get(scheme=scheme, key="dispute").teams.get()
    assert set(group.members.values_list("username", flat=True)) == {"licheng_police", "licheng_leader"}
    grid = _cell_of(leader, "grid_leader")
    assert grid == _cell_of(users.get(username="licheng_grid1"), "grid_worker")
    matter = Matter.objects.get(catalogue__key="default", code="13001")  # 邻里纠纷
    rng = random.Random("licheng-noise")
    lon, lat = _point(rng, grid)
    # when the officer who took the call records it at 10:00 (he owns it: 首问首办) and hands it on at 10:02
    case = case_report(actor=officer, channel=Channel.POLICE, scheme=scheme, matter=matter, lon=lon, lat=lat,
                       description="邻居噪声纠纷，双方发生口角", external_ref="JQ20261123-0042",
                       attributes=_answers(rng, matter), at=at(10, 0)).case
    assert case.owner == officer
    case = case_transition(case=case, actor=officer, action="register", at=at(10, 1))
    case = case_transition(case=case, actor=officer, action="dispatch", at=at(10, 2))
    assert case.assignee_team == group and case.routing_rule.name == "警情纠纷转纠纷流转群"
    # and the grid leader takes it in one click at 10:04; it is mediated and reported back at 10:52
    case = case_transition(case=case, actor=leader, action="accept", at=at(10, 4))
    case = case_transition(case=case, actor=officer, action="report_back", after_photos=[png((0, 200, 0))],
                           note="双方握手言和，达成调解协议", at=at(10, 52))
    case = case_transition(case=case, actor=users.get(username="licheng_street"), action="verify_pass",
                           at=at(11, 0))
    # then the one click was one action by the grid leader: nothing else between the hand-over and the
    # mediation's report-back (the officer, the group's other member, did not accept as well)
    events = list(case.events.order_by("seq").values_list("kind", "actor__username", "at"))
    assert events == [("report", "licheng_police", at(10, 0)), ("register", "licheng_police", at(10, 1)),
                      ("dispatch", "licheng_police", at(10, 2)), ("accept", "licheng_leader", at(10, 4)),
                      ("report_back", "licheng_police", at(10, 52)), ("verify_pass", "licheng_street", at(11, 0))]
    # and the mediation took under an hour, within the limit
    assert case.reported_back_at - case.dispatched_at < dt.timedelta(hours=1)
    assert case.state == CaseState.CLOSED
    assert all(s.status == SlaStatus.ON_TIME for s in case.stages.filter(completed_at__isnull=False))


def _photos() -> dict:
    return {"before_photos": [png()], "after_photos": [png((0, 200, 0))]}


def _closed_or_verified(case, *, verifier, at_: dt.datetime):
    """巡办合一: a self-handled case closes at once unless the policy's sample picked it for verification, in
    which case the grid office verifies it."""
    sampled = case.events.filter(kind="sampled").exists()
    assert case.state == (CaseState.REPORTED_BACK if sampled else CaseState.CLOSED)
    if sampled:
        case = case_transition(case=case, actor=verifier, action="verify_pass", at=at_)
    assert case.state == CaseState.CLOSED
    return case


def _due(start: dt.datetime, amount: float, unit: str, scheme: LevelScheme) -> dt.datetime:
    return deadline(start, amount, unit, scheme=scheme)


# =========================================================================== Pinggu
def test_pinggu_three_three_front_meeting_whistle():
    """Seed 003, 三三制: general problems handled at the front, complex ones in a meeting, hard ones by blowing
    the whistle; reported as routine / urgent / major with their own limits and audiences."""
    # given Pinggu loaded small (Baiyunsi is always whole): the micro-grid worker, the township's grid centre,
    # the village secretary, and the village police officer in his station's team
    scheme = load("pinggu", 0.05)
    users = get_user_model().objects
    worker, town, village = (users.get(username=f"pinggu_{who}") for who in ("grid1", "town", "village"))
    police = users.get(username="pinggu_police")
    micro = _cell_of(worker, "microgrid_worker")
    village_cell = _cell_of(village, "village_party_secretary")
    township = _cell_of(town, "grid_centre_staff")
    assert micro.parent == village_cell and village_cell.parent == township
    rng = random.Random("pinggu-story")
    lon, lat = _point(rng, micro)
    matters = {m.code: m for m in Matter.objects.filter(catalogue__key="default",
                                                        code__in=("07002", "13005", "17005"))}
    # routine: the micro-grid worker clears exposed rubbish on the spot at 08:30
    front = case_report(actor=worker, channel=Channel.PATROL, scheme=scheme, matter=matters["07002"], lon=lon,
                        lat=lat, description="路边乱堆垃圾柴草，已清理", self_handled=True, at=at(8, 30),
                        attributes=_answers(rng, matters["07002"]), **_photos()).case
    assert (front.report_level, front.handling_mode, front.reporter) == ("ROUTINE", "SELF", worker)
    front = _closed_or_verified(front, verifier=town, at_=at(8, 45))
    # urgent: a homestead boundary dispute goes to the village, studied in a meeting, at half the routine limit
    meeting = case_report(actor=worker, channel=Channel.PATROL, scheme=scheme, matter=matters["13005"], lon=lon,
                          lat=lat, report_level="URGENT", description="宅基地边界纠纷",
                          attributes=_answers(rng, matters["13005"]), at=at(9, 0)).case
    meeting = case_transition(case=meeting, actor=town, action="register", at=at(9, 10))
    meeting = case_transition(case=meeting, actor=town, action="dispatch", at=at(9, 10))
    assert meeting.assignee_node == village_cell
    # the mediation stage: 15 working days, halved for an urgent report and kept to whole days
    stage = meeting.stages.order_by("order").first()
    assert matters["13005"].stages.first().amount == 15
    assert (stage.amount, stage.unit, stage.started_at) == (8, "WORKING_DAYS", at(9, 10))
    assert stage.due_at == _due(at(9, 10), 8, "WORKING_DAYS", scheme)
    meeting = case_transition(case=meeting, actor=village, action="accept", at=at(9, 20))
    meeting = case_transition(case=meeting, actor=village, action="comment", note="村两委会议研究处理方案",
                              at=at(10, 0))
    meeting = case_transition(case=meeting, actor=village, action="report_back", note="按会议方案调解",
                              after_photos=[png((0, 200, 0))], at=at(11, 0))
    assert meeting.state == CaseState.REPORTED_BACK and meeting.reported_back_at == at(11, 0)
    assert meeting.stages.order_by("order").first().status == SlaStatus.ON_TIME
    assert Notification.objects.filter(case=meeting, recipient=town, kind="level_urgent").exists()
    # major: moving people out of a danger zone — the village cannot do it alone and blows the whistle to the
    # township, whose emergency office and police station report in
    hard = case_report(actor=worker, channel=Channel.PATROL, scheme=scheme, matter=matters["17005"], lon=lon,
                       lat=lat, description="山体滑坡风险，需转移农户", before_photos=[png()], at=at(14, 0)).case
    assert hard.report_level == "MAJOR"
    hard = case_transition(case=hard, actor=town, action="register", at=at(14, 5))
    hard = case_transition(case=hard, actor=town, action="dispatch", at=at(14, 6))
    assert hard.assignee_node == village_cell
    hard = case_transition(case=hard, actor=village, action="whistle", reason="村里解决不了，需乡里协调",
                           depth=township.level.depth, departments=["town-emergency", "police-huangsongyu"],
                           at=at(14, 10))
    assert hard.escalations.get().node == township
    case_transition(case=hard, actor=users.get(username="pinggu_dept"), action="report_in", at=at(14, 25))
    case_transition(case=hard, actor=police, action="report_in", at=at(14, 40))
    rows = {r.department.key: (r.reported_by.username, r.reported_at)
            for r in ReportIn.objects.filter(escalation__case=hard)}
    assert rows == {"town-emergency": ("pinggu_dept", at(14, 25)), "police-huangsongyu": ("pinggu_police", at(14, 40))}
    assert Notification.objects.filter(case=hard, recipient=town, kind="level_major").exists()


# =========================================================================== Luohu
def test_luohu_three_handling_modes_and_four_admitted_categories():
    """Seed 004: patrol findings are handled 巡办合一 (on the spot), 巡办协同 (the finder and a department) or
    巡办分离 (handed over); the comprehensive grid's matters come in four admitted categories, and what no list
    admits stays the department's duty."""
    # given Luohu loaded small, with its four duty lists
    scheme = load("luohu", 0.05)
    users = get_user_model().objects
    worker, office = users.get(username="luohu_grid1"), users.get(username="luohu_street")
    lists = DutyList.objects.filter(scheme=scheme).order_by("order")
    assert [(d.name_zh, d.admits_to_grid) for d in lists] == [("信息核采", True), ("网格巡查", True),
                                                              ("社区服务", True), ("街社统筹", True)]
    grid = _cell_of(worker, "grid_worker")
    water = _department(scheme, "区水务局")
    rng = random.Random("luohu-story")
    lon, lat = _point(rng, grid)
    matters = {m.code: m for m in Matter.objects.filter(catalogue__key="default", code__in=("07002", "01001", "01002"))}
    # 巡办合一: found and handled on the spot at 09:00
    spot = case_report(actor=worker, channel=Channel.PATROL, scheme=scheme, matter=matters["07002"], lon=lon,
                       lat=lat, description="暴露垃圾，已清理", self_handled=True, at=at(9, 0), **_photos()).case
    assert spot.handling_mode == "SELF"
    spot = _closed_or_verified(spot, verifier=office, at_=at(9, 30))
    # 巡办协同: the finder fences the broken manhole off, the water bureau does the rest
    joint = case_report(actor=worker, channel=Channel.PATROL, scheme=scheme, matter=matters["01001"], lon=lon,
                        lat=lat, description="上水井盖缺失", photos=[png()], attributes=_answers(rng, matters["01001"]),
                        at=at(10, 0)).case
    joint = case_transition(case=joint, actor=worker, action="partial_handle", before_photos=[png((9, 9, 9))],
                            note="已设置围挡警示", at=at(10, 5))
    joint = case_transition(case=joint, actor=office, action="register", at=at(10, 10))
    joint = case_transition(case=joint, actor=office, action="dispatch", at=at(10, 10))
    assert joint.handling_mode == "COLLABORATIVE" and joint.assignee_team.department == water
    # giving the department's matter to a grid worker is refused: no list admits it
    with pytest.raises(ValidationError, match="not on an admitted duty list"):
        case_transition(case=joint, actor=office, action="reroute", reason="试试网格员",
                        assignee={"kind": "GRID_WORKER"}, at=at(10, 15))
    # 巡办分离: a broken sewage manhole cover is handed over to the department entirely
    handover = case_report(actor=worker, channel=Channel.PATROL, scheme=scheme, matter=matters["01002"], lon=lon,
                           lat=lat, description="污水井盖破损", photos=[png()],
                           attributes=_answers(rng, matters["01002"]), at=at(11, 0)).case
    handover = case_transition(case=handover, actor=office, action="register", at=at(11, 5))
    handover = case_transition(case=handover, actor=office, action="dispatch",
                               assignee={"kind": "DEPARTMENT", "department": water.key}, at=at(11, 5))
    assert handover.handling_mode == "HANDOVER" and handover.assignee_team.department == water
    assert [e.actor for e in handover.events.order_by("seq")] == [worker, office, office]


# =========================================================================== Haimen
def test_haimen_major_event_escalated_to_the_town_with_departments_reporting_in():
    """Seed 000, 网格吹哨、部门响应: a micro-grid's major event goes to the village; unable to solve it, the
    village blows the whistle to the town, whose departments must report in."""
    # given Haimen loaded small: its three duty lists, the town's grid office, the chief grid leader, and the
    # community police officer in his station's team
    scheme = load("haimen", 0.02)
    users = get_user_model().objects
    worker, office, chief = (users.get(username=f"haimen_{who}") for who in ("grid1", "town", "village"))
    police = users.get(username="haimen_police")
    assert [d.key for d in DutyList.objects.filter(scheme=scheme).order_by("order")] == [
        "grid", "community", "department"]
    grid = _cell_of(worker, "fulltime_grid_worker")
    micro = grid.children.filter(valid_to__isnull=True).order_by("code").first()
    village_cell, town_cell = _cell_of(chief, "chief_grid_leader"), _cell_of(office, "grid_office_staff")
    assert grid.parent == village_cell and village_cell.parent == town_cell
    water = _department(scheme, "区水务局")
    matter = Matter.objects.get(catalogue__key="default", code="17007")  # 堤防塘坝险情, on the departments' list
    rng = random.Random("haimen-story")
    lon, lat = _point(rng, micro)
    # when the grid worker reports seepage in the river bank at 09:00
    case = case_report(actor=worker, channel=Channel.PATROL, scheme=scheme, matter=matter, lon=lon, lat=lat,
                       description="河堤渗水，威胁农户", photos=[png()], attributes=_answers(rng, matter),
                       at=at(9, 0)).case
    assert case.report_level == "MAJOR" and case.node == micro
    case = case_transition(case=case, actor=office, action="register", at=at(9, 5))
    # a grid worker cannot be given a matter of the departments' list
    with pytest.raises(ValidationError, match="not on an admitted duty list"):
        case_transition(case=case, actor=office, action="dispatch", assignee={"kind": "GRID_WORKER"}, at=at(9, 6))
    case = case_transition(case=case, actor=office, action="dispatch", assignee={"kind": "COMMUNITY"}, at=at(9, 6))
    assert case.assignee_node == village_cell
    # and the village blows the whistle to the town at 09:15, calling the water bureau and the police station
    case = case_transition(case=case, actor=chief, action="whistle", reason="需水利、公安联动",
                           depth=town_cell.level.depth, departments=[water.key, "police-yuelai"], at=at(9, 15))
    escalation = case.escalations.get()
    policy = CasePolicy.objects.get(scheme=scheme)
    assert escalation.node == town_cell
    assert escalation.report_in_due_at == _due(at(9, 15), float(policy.report_in_amount), policy.report_in_unit,
                                               scheme)
    # then the water bureau's handler reports in at 09:40; the police have not yet
    case_transition(case=case, actor=users.get(username="haimen_dept"), action="report_in", note="抢险队已出发",
                    at=at(9, 40))
    rows = {r.department.key: (getattr(r.reported_by, "username", None), r.reported_at)
            for r in ReportIn.objects.filter(escalation=escalation)}
    assert rows == {water.key: ("haimen_dept", at(9, 40)), "police-yuelai": (None, None)}
    # and the police officer, called too, heard of it, as did the town's grid office
    assert Notification.objects.filter(case=case, kind="whistle", recipient=police).exists()
    assert Notification.objects.filter(case=case, kind="whistle", recipient=office).exists()
    events = list(case.events.order_by("seq").values_list("kind", "actor__username", "at"))
    assert events == [("report", "haimen_grid1", at(9, 0)), ("register", "haimen_town", at(9, 5)),
                      ("dispatch", "haimen_town", at(9, 6)), ("whistle", "haimen_village", at(9, 15)),
                      ("report_in", "haimen_dept", at(9, 40))]
