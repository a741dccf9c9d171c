"""Separation of duties over the grants of every shipped profile: seeded walks through the workflow, each
step any action the profile's grants allow to any of its demo logins, checked at every step against a
model of the rule kept here (not read from the code under test): no handler of the current round is ever
offered or allowed a verification, a close, a rating or a decision on an application, and no one who
handled the case reads its tracking code."""

from __future__ import annotations

import random

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from gridgov.accounts.models import Assignment, Department, Team
from gridgov.cases.errors import ActionForbidden, CaseConflict
from gridgov.cases.grants import actions_for, sees_tracking_code
from gridgov.cases.models import Case, CasePolicy, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import png
from gridgov.cases.transitions import TRANSITIONS
from gridgov.catalogue.models import Matter
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.seed.demo_cases import _answers, _point, _workers
from gridgov.seed.profiles import PROFILES, profile_get, profile_load

pytestmark = pytest.mark.django_db

# the rule as the issue states it, written out here independently of the table
REFUSED_TO_HANDLERS = {"verify_pass", "verify_fail", "evaluate", "reopen", "approve_extension", "reject_extension",
                       "approve_parking", "reject_parking"}
HANDLING = {"self_handle", "accept", "partial_handle", "complete_stage", "report_back", "request_extension",
            "report_in"}
ROUND_STARTS = {"verify_fail", "reopen"}  # and every dispatch after the first
SKIPPED = {"merge"}  # needs a second case; merging ends the walk without a verification anyway
RARE = {"comment", "whistle", "report_in", "request_parking", "reject_parking", "reject_extension", "reroute",
        "return", "unpark", "reject"}
WALKS = 8
STEPS = 24


class RoundModel:
    """Who handled the case's current round, and who ever handled it, from the steps the walk took."""

    def __init__(self):
        self.round: set[int] = set()
        self.ever: set[int] = set()
        self.dispatched = False

    def took(self, user, action: str, case: Case) -> None:
        if action == "dispatch":
            if self.dispatched:
                self.round = set()
            self.dispatched = True
        if action in ROUND_STARTS:
            self.round = set()
        last = case.events.order_by("-seq").first()
        if user is not None and (action in HANDLING or last.actor_role == "ASSIGNEE"):
            self.round.add(user.pk)
            self.ever.add(user.pk)


def assigned(user, case: Case) -> bool:
    """The current assignee, read straight from the case: the person, a team member, someone assigned to the
    assigned community."""
    if case.assignee_user_id == user.pk:
        return True
    if case.assignee_team_id and Team.objects.filter(pk=case.assignee_team_id, members=user).exists():
        return True
    return bool(case.assignee_kind == "COMMUNITY" and case.assignee_node_id and Assignment.objects.current().filter(
        person__user=user, node_id=case.assignee_node_id, role__grants_scope=True).exists())


def inputs(action: str, case: Case, rng: random.Random, departments: list[str]) -> dict:
    kw: dict = {"reason": "测试原因", "note": "测试"}
    if action == "report_back":
        kw["after_photos"] = [png((0, 200, 0))]
    elif action == "partial_handle":
        kw["before_photos"] = [png((9, 9, 9))]
    elif action == "evaluate":
        kw["satisfaction"] = 5
    elif action == "reopen":
        kw["satisfaction"] = 1
    elif action == "request_extension":
        kw.update(amount=1, unit="WORKING_HOURS")
    elif action == "reroute":
        kw["assignee"] = rng.choice([{"kind": "COMMUNITY"}, {"kind": "GRID_WORKER"},
                                     {"kind": "DEPARTMENT", "department": rng.choice(departments)}])
    elif action == "whistle":
        kw["departments"] = [rng.choice(departments)]
    return kw


def check(case: Case, pool: list, model: RoundModel) -> int:
    """The invariant at one step; returns how many refusals it tried."""
    tried = 0
    for user in pool:
        handles = user.pk in model.round or assigned(user, case)
        if handles or user.pk in model.ever:
            assert not sees_tracking_code(user, case), (user.username, case.state)
        if not handles:
            continue
        offered = set(actions_for(user, case)) & REFUSED_TO_HANDLERS
        assert not offered, (user.username, case.state, offered)
        for action in sorted(REFUSED_TO_HANDLERS):
            if case.state not in TRANSITIONS[action].sources:
                continue
            with pytest.raises(ActionForbidden):
                case_transition(case=case, actor=user, action=action, reason="自己核自己", satisfaction=5)
            tried += 1
    return tried


def start(kind: str, *, scheme, worker, cell, centre, matter: Matter, rng: random.Random) -> Case:
    lon, lat = _point(rng, cell)
    common = {"scheme": scheme, "matter": matter, "lon": lon, "lat": lat, "description": "测试上报",
              "photos": [png()], "attributes": _answers(rng, matter)}
    if kind == "self":
        return case_report(actor=worker, channel=Channel.PATROL, self_handled=True, after_photos=[png((0, 200, 0))],
                           **common).case
    if kind == "patrol":
        return case_report(actor=worker, channel=Channel.PATROL, **common).case
    if kind == "hotline":
        return case_report(actor=centre, channel=Channel.HOTLINE, reporter_phone="13812345678", **common).case
    return case_report(actor=None, channel=Channel.RESIDENT, **common).case


@pytest.mark.parametrize("key", sorted(PROFILES))
def test_no_walk_through_a_profiles_grants_lets_a_handler_check_its_own_round(key):
    # given the profile, loaded small, its demo logins, and the centre's operator also in every department's
    # team (so that the all-seeing centre is a handler too); every self-handled case is sampled
    profile = profile_get(key)
    scheme = profile_load(profile, scale=1.0 if key == "pinggu" else 0.03).scheme
    users = get_user_model().objects
    pool = list(users.filter(username__in=[lg.username for lg in profile.logins]).order_by("username"))
    centre = next(u for u in pool if u.sees_everything)
    for team in Team.objects.filter(department__scheme=scheme):
        team.members.add(centre)
    CasePolicy.objects.filter(scheme=scheme).update(verification_sample_share=1)
    workers = _workers(scheme)
    worker, cell = next(((u, n) for u, n in workers if u in pool), workers[0])
    if worker not in pool:
        pool.append(worker)
    matters = list(Matter.objects.filter(catalogue=scheme_catalogue(scheme), active=True).order_by("code"))
    by_tier = {tier: [m for m in matters if m.duty_tier == tier] for tier in ("GRID", "COMMUNITY", "DEPARTMENT")}
    departments = sorted(Department.objects.filter(scheme=scheme).values_list("key", flat=True))
    tried = closed = 0
    # when seeded walks take any allowed action of any login, step after step
    for walk in range(WALKS):
        rng = random.Random(f"{key}:{walk}")
        kind = ("self", "patrol", "hotline", "resident")[walk % 4]
        tier = ("GRID", "DEPARTMENT", "COMMUNITY", "DEPARTMENT")[walk % 4] if kind != "self" else "GRID"
        case = start(kind, scheme=scheme, worker=worker, cell=cell, centre=centre, matter=rng.choice(by_tier[tier]),
                     rng=rng)
        model = RoundModel()
        for event in case.events.order_by("seq"):
            if event.kind in HANDLING and event.actor_id:
                model.round.add(event.actor_id)
                model.ever.add(event.actor_id)
        for _step in range(STEPS):
            case = Case.objects.get(pk=case.pk)
            # then at every step no handler of the round may check it, and no one who handled it sees the code
            tried += check(case, pool, model)
            candidates = [(u, a) for u in pool for a in actions_for(u, case) if a not in SKIPPED]
            if not candidates:
                break
            weights = [1 if a in RARE else 6 for _u, a in candidates]
            user, action = rng.choices(candidates, weights=weights)[0]
            try:
                case = case_transition(case=case, actor=user, action=action,
                                       **inputs(action, case, rng, departments))
            except (ValidationError, CaseConflict):
                continue  # bad input for this case (admission, no open stage ...): the walk goes on
            model.took(user, action, case)
            closed += action == "verify_pass"
            if case.state in (CaseState.EVALUATED, CaseState.REJECTED, CaseState.MERGED):
                break
    # and the walks did reach the checks: handlers were refused, others verified
    assert tried > 0 and closed > 0, (tried, closed)
