"""Seed stories run on the shipped profile, loaded with `load_profile` at a small scale: the profile's own
territory, people in charge, demo logins, grants and routing rules carry the story; the test adds nothing
but the case."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from gridgov.accounts import services as account_services
from gridgov.accounts.models import Assignment, Department
from gridgov.cases.models import AssigneeKind, CaseState, Channel, SlaStatus
from gridgov.cases.services import case_evaluate, case_report, case_transition
from gridgov.cases.tests.factories import png
from gridgov.catalogue.models import AdmissionRequest, Matter
from gridgov.seed.demo_cases import _answers, _point
from gridgov.seed.profiles import licheng, xiangyang
from gridgov.territory.models import ChangeKind, LevelScheme, NodeVersion

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
    assert stage.status == SlaStatus.GREEN and stage.completed_at == at(10, 0) <= stage.due_at


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
    assert (case.reported_at, case.handled_at, case.closed_at) == (at(12, 16), at(12, 31), at(13, 58))
    events = list(case.events.order_by("seq").values_list("kind", "actor__username", "at"))
    assert events == [("report", "dongmei_resident", at(12, 16)), ("register", "licheng_unit", at(12, 17)),
                      ("dispatch", "licheng_unit", at(12, 17)), ("accept", "licheng_unit", at(12, 18)),
                      ("report_back", "licheng_unit", at(12, 31)), ("verify_pass", "dongmei_resident", at(13, 58)),
                      ("evaluate", "dongmei_resident", at(13, 58))]
    assert all(s.status == SlaStatus.GREEN and s.completed_at <= s.due_at for s in case.stages.all())


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
    assert case.handled_at - case.dispatched_at < dt.timedelta(hours=1)
    assert case.state == CaseState.CLOSED
    assert all(s.status == SlaStatus.GREEN for s in case.stages.filter(completed_at__isnull=False))
