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

from gridgov.accounts.models import Assignment
from gridgov.cases.models import AssigneeKind, CaseState, Channel, SlaStatus
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import png
from gridgov.catalogue.models import Matter
from gridgov.seed.demo_cases import _answers, _point
from gridgov.seed.profiles import xiangyang
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
    assert stage.status == SlaStatus.ON_TIME and stage.completed_at == at(10, 0) <= stage.due_at
