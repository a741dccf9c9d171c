"""The transition table, exhaustively and by property: every (state, action) pair either moves the case
exactly as the table says or changes nothing; no sequence of actions breaks the case's invariants."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov.cases.errors import ActionForbidden, CaseConflict
from gridgov.cases.models import Case, CaseEvent, Channel, SlaStatus
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.cases.transitions import TABLE, TERMINAL_STATES, TRANSITIONS, mermaid, table_document

WATER = {"kind": "DEPARTMENT", "department": "water"}


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _report(loop, *, matter="10001", by_worker=False):
    lon, lat = point_in(loop.tree["g1"])
    if by_worker:
        return case_report(actor=loop.worker, channel=Channel.PATROL, matter=matter, lon=lon, lat=lat,
                           description="巡查发现").case
    return case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter=matter, lon=lon, lat=lat,
                       description="居民反映").case


# how to reach each state: (actor attribute, action, fields)
PATHS = {
    CaseState.REPORTED: [],
    CaseState.REGISTERED: [("office", "register", {})],
    CaseState.REJECTED: [("office", "reject", {"reason": "不属于受理范围"})],
    CaseState.DISPATCHED: [("office", "register", {}), ("office", "dispatch", {"assignee": WATER})],
    CaseState.IN_PROGRESS: [("office", "register", {}), ("office", "dispatch", {"assignee": WATER}),
                            ("handler", "accept", {})],
    CaseState.REPORTED_BACK: [("office", "register", {}), ("office", "dispatch", {"assignee": WATER}),
                              ("handler", "accept", {}), ("handler", "report_back", {})],
    CaseState.CLOSED: [("office", "register", {}), ("office", "dispatch", {"assignee": WATER}),
                       ("handler", "accept", {}), ("handler", "report_back", {}), ("office", "verify_pass", {})],
    CaseState.EVALUATED: [("office", "register", {}), ("office", "dispatch", {"assignee": WATER}),
                          ("handler", "accept", {}), ("handler", "report_back", {}), ("office", "verify_pass", {}),
                          ("office", "evaluate", {"satisfaction": 5})],
    CaseState.PARKED: [("office", "register", {}), ("office", "request_parking", {"reason": "待资金"}),
                       ("office", "approve_parking", {})],
    CaseState.MERGED: [("office", "merge", {"into": "OTHER", "reason": "重复"})],
}


def _drive(loop, state):
    case = _report(loop)
    for who, action, fields in PATHS[state]:
        if fields.get("into") == "OTHER":
            fields = {**fields, "into": _report(loop).pk}
        case = case_transition(case=case, actor=getattr(loop, who), action=action, **fields)
    assert case.state == state
    return case


def test_every_state_is_reachable_and_terminal_states_are_the_ends():
    targets = {t.target for t in TABLE if t.target} | {CaseState.REPORTED}
    assert targets == set(CaseState.values)
    assert set(TERMINAL_STATES) == {CaseState.REJECTED, CaseState.EVALUATED, CaseState.MERGED}
    assert set(PATHS) == set(CaseState.values)


@pytest.mark.parametrize("state", CaseState.values)
def test_actions_not_in_the_table_change_nothing(loop, state):
    # given a case in `state`
    case = _drive(loop, state)
    version, events = case.version, case.events.count()
    # when any action the table does not allow in that state is tried by the all-seeing centre
    for t in TABLE:
        if state in t.sources:
            continue
        with pytest.raises(CaseConflict):
            case_transition(case=case, actor=loop.centre, action=t.action, reason="试一下")
    # then the case and its events are as they were
    case.refresh_from_db()
    assert (case.state, case.version, case.events.count()) == (state, version, events)


ALLOWED = {  # (action) → (actor attribute, fields) that make it succeed from any of its source states
    "register": ("office", {}),
    "reject": ("office", {"reason": "重复上报"}),
    "merge": ("office", {"into": "OTHER", "reason": "重复"}),
    "dispatch": ("office", {"assignee": WATER}),
    "reroute": ("office", {"assignee": {"kind": "COMMUNITY"}, "reason": "派错了"}),
    "accept": ("handler", {}),
    "return": ("handler", {"reason": "不属于本部门"}),
    "partial_handle": (None, {}),
    "complete_stage": ("handler", {}),
    "report_back": ("handler", {}),
    "verify_pass": ("office", {}),
    "verify_fail": ("office", {"reason": "未处理到位"}),
    "evaluate": ("office", {"satisfaction": 4}),
    "reopen": ("office", {"satisfaction": 1, "reason": "不满意"}),
    "request_extension": ("handler", {"amount": 2, "unit": "WORKING_HOURS", "reason": "需协调"}),
    "request_parking": ("office", {"reason": "需纳入年度计划"}),
    "whistle": ("leader", {"reason": "社区解决不了", "departments": ["police"]}),
    "comment": ("centre", {"note": "督办"}),
    "unpark": ("centre", {"reason": "资金到位"}),
}


@pytest.mark.parametrize("action", [t.action for t in TABLE if t.action in ALLOWED])
def test_allowed_actions_move_the_case_as_the_table_says(loop, action):
    t = TRANSITIONS[action]
    for state in t.sources:
        case = _drive(loop, state)
        who, fields = ALLOWED[action]
        if fields.get("into") == "OTHER":
            fields = {**fields, "into": _report(loop).pk}
        if action == "reroute" or (action in ("accept", "return", "complete_stage", "report_back",
                                              "request_extension") and case.assignee_team_id is None):
            pass
        actor = getattr(loop, who) if who else loop.worker
        if action == "partial_handle":
            case.reporter = loop.worker  # the reporter is a grid worker
            Case.objects.filter(pk=case.pk).update(reporter=loop.worker)
            fields = {"before_photos": [png()]}
        if action == "request_parking" and state in (CaseState.DISPATCHED, CaseState.IN_PROGRESS):
            actor = loop.handler
        version, events = case.version, case.events.count()
        case = case_transition(case=case, actor=actor, action=action, **fields)
        assert case.state == (t.target or state), (action, state)
        assert case.version == version + 1
        assert case.events.count() == events + 1
        last = case.events.order_by("-seq").first()
        assert (last.kind, last.from_state, last.to_state) == (action, state, case.state)


def test_table_is_served_and_drawn():
    doc = table_document()
    assert {a["action"] for a in doc["actions"]} == set(TRANSITIONS)
    diagram = mermaid()
    assert "REGISTERED --> DISPATCHED: dispatch" in diagram and "REPORTED_BACK --> CLOSED: verify_pass" in diagram


# --------------------------------------------------------------------------- property
ACTORS = ("centre", "office", "leader", "worker", "worker2", "handler", None)
STEP = st.tuples(st.sampled_from([t.action for t in TABLE if t.action != "auto_close"]),
                 st.sampled_from(ACTORS), st.sampled_from([None, "OTHER", WATER, {"kind": "COMMUNITY"}]),
                 st.integers(min_value=1, max_value=5))


def _check_invariants(case: Case, successes: int) -> None:
    seqs = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    # a case another one merged into records that merge too, without changing state
    own = CaseEvent.objects.filter(case=case).exclude(Q(kind="merge") & ~Q(to_state=CaseState.MERGED)).count()
    assert own == 1 + successes and case.version == 1 + successes
    assert (case.state == CaseState.PARKED) == (case.parked_at is not None)
    assert (case.state == CaseState.MERGED) == (case.merged_into_id is not None)
    if case.state in (CaseState.DISPATCHED, CaseState.IN_PROGRESS):
        assert case.assignee_kind
    if case.state in (CaseState.CLOSED, CaseState.EVALUATED):
        assert case.closed_at is not None
    if not case.stages.filter(completed_at__isnull=True).exists():
        assert case.sla_status == SlaStatus.NONE and case.due_at is None
    if case.state == CaseState.EVALUATED:
        assert case.satisfaction is not None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=st.lists(STEP, max_size=12))
def test_no_sequence_of_actions_breaks_the_invariants(loop, steps):
    case = _report(loop)
    successes = 0
    for action, who, target, score in steps:
        actor = getattr(loop, who) if who else None
        fields = {"satisfaction": score, "amount": 1, "unit": "WORKING_HOURS"}
        if target == "OTHER":
            fields["into"] = _report(loop).pk
        elif target is not None:
            fields["assignee"] = target
        # the inputs the action takes (one it does not take is refused)
        fields = {"reason": "理由", **{k: v for k, v in fields.items() if TRANSITIONS[action].takes(k)}}
        before = case.state
        try:
            case = case_transition(case=case, actor=actor, action=action, **fields)
            successes += 1
            assert before in TRANSITIONS[action].sources
        except (CaseConflict, ActionForbidden, ValidationError):
            case.refresh_from_db()
            assert case.state == before
        assert before not in TERMINAL_STATES or case.state == before
        _check_invariants(case, successes)


def test_docs_workflow_matches_the_table():
    from pathlib import Path

    from django.conf import settings
    from django.utils import translation

    from gridgov.cases.transitions import markdown

    with translation.override("en"):
        expected = markdown()
    assert (Path(settings.BASE_DIR) / "docs" / "workflow.md").read_text(encoding="utf-8") == expected, \
        "run `manage.py workflow_doc`"
