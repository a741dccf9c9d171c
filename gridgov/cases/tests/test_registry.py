"""The workflow registry holds everything keyed by an action: every transition names what it must, and
no other module keeps a map keyed by action; the service enforces what the registry says (inputs, the
guard of a decision, the extension's clock); a merge is recorded on both cases; the watch bumps the
version of what it changes."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from gridgov.cases import reporter_notices, watch
from gridgov.cases.attachments import PHOTOS_MAX
from gridgov.cases.forms import ACTION_FORMS, SYSTEM_ACTIONS
from gridgov.cases.grants import actions_for
from gridgov.cases.models import ActionGrant, Attachment, CaseEvent, CaseRequest, Channel, Notification, RequestKind
from gridgov.cases.selectors import case_public_progress
from gridgov.cases.services import case_report, case_transition, handlers
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.cases.transitions import (
    PUBLIC_MILESTONES,
    SYSTEM_KINDS,
    TABLE,
    TRANSITIONS,
    Audience,
    Clock,
    Duty,
    EventKind,
    table_document,
)

WATER = {"kind": "DEPARTMENT", "department": "water"}


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _report(loop):
    lon, lat = point_in(loop.tree["g1"])
    return case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01002", lon=lon, lat=lat,
                       description="水管爆了").case


def _in_progress(loop):
    case = _report(loop)
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER)
    return case_transition(case=case, actor=loop.handler, action="accept")


# --------------------------------------------------------------------------- the table, exhaustively
@pytest.mark.parametrize("t", TABLE, ids=lambda t: t.action)
def test_every_transition_carries_what_it_must(t):
    # a handler named on it exists in the handlers module
    if t.handler is not None:
        assert callable(getattr(handlers, t.handler, None)), t.handler
    # a state change or a clock rule or a handler: every action does something
    assert t.target is not None or t.clock != Clock.NONE or t.handler or t.action == "comment"
    # a reporter's step has its message; a public milestone is a state the action reaches
    if t.step:
        assert t.step in reporter_notices.STEP_TEXTS
    if t.public:
        assert t.target is not None and PUBLIC_MILESTONES[t.action] == t.target
    # a decision names a kind of application, is refused to the round's handlers, and only decides
    if t.decides:
        assert t.decides in RequestKind.values and t.duty == Duty.DECIDES
        assert t.action.startswith(("approve_", "reject_"))
    # the notices' texts name only what the service fills in
    for notice in t.notices:
        values = {"number": "1", "what": "x", "due": "d", "level": "l", "cell": "c"}
        assert str(notice.text) % values
    # a person's action has its page form (shaped by the action's inputs); the reason has its question
    if t.action not in SYSTEM_ACTIONS:
        assert ACTION_FORMS[t.action].shape == (t.fields, t.evidence)
    assert not (t.reason_label and not t.reason)
    # it is a choice of the grants and of the events
    assert t.action in ActionGrant._meta.get_field("action").flatchoices[0] or t.action in dict(
        ActionGrant._meta.get_field("action").flatchoices)
    assert t.action in dict(CaseEvent._meta.get_field("kind").flatchoices)


def test_every_handler_is_named_by_a_transition_and_no_handler_map_remains():
    defined = {name for name, fn in inspect.getmembers(handlers, inspect.isfunction)
               if name.startswith("handle_") and fn.__module__ == handlers.__name__}
    assert defined == {t.handler for t in TABLE if t.handler}
    assert not hasattr(handlers, "HANDLERS")


def test_the_kinds_are_choices_derived_from_the_registry():
    events = dict(CaseEvent._meta.get_field("kind").flatchoices)
    notices = dict(Notification._meta.get_field("kind").flatchoices)
    grants = dict(ActionGrant._meta.get_field("action").flatchoices)
    assert set(grants) == set(TRANSITIONS)
    assert set(events) == set(TRANSITIONS) | {k.kind for k in SYSTEM_KINDS if k.event}
    assert set(notices) == ({t.action for t in TABLE if any(n.to != Audience.LEVELS for n in t.notices)}
                            | {k.kind for k in SYSTEM_KINDS if k.notice})
    assert EventKind.MERGE == "merge"


def _action_keyed_maps(path: Path) -> list[str]:
    """Dict literals and dict() calls of the module whose keys are three or more action names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        keys = []
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        if len([k for k in keys if k in TRANSITIONS]) >= 3:
            found.append(f"{path}:{node.lineno}")
    return found


def test_no_side_map_keyed_by_action_remains():
    root = Path(settings.BASE_DIR) / "gridgov"
    offenders = []
    for path in root.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts or path.name == "transitions.py":
            continue
        offenders += _action_keyed_maps(path)
    assert offenders == []


def test_the_api_and_the_diagram_serve_the_registry():
    doc = {a["action"]: a for a in table_document()["actions"]}
    assert doc["approve_extension"]["decides"] == "EXTENSION" and doc["approve_extension"]["clock"] == "EXTEND"
    assert doc["merge"]["required_fields"] == ["into"]
    assert doc["report_back"]["evidence"] == [{"purpose": "AFTER", "when": "IF_MATTER_ASKS"}]
    assert doc["register"]["reporter_step"] == "registered" and doc["dispatch"]["handler"] == "handle_dispatch"


# --------------------------------------------------------------------------- inputs, in the service
def test_the_service_refuses_an_input_the_action_does_not_take(loop):
    # given a case being handled
    case = _in_progress(loop)
    version = case.version
    # when the handler reports back with a satisfaction score (report_back takes none)
    with pytest.raises(ValidationError) as caught:
        case_transition(case=case, actor=loop.handler, action="report_back", satisfaction=5)
    # then the error names the field and nothing changed
    assert "satisfaction" in caught.value.message_dict
    case.refresh_from_db()
    assert (case.state, case.version) == (CaseState.IN_PROGRESS, version)


@pytest.mark.parametrize(("action", "missing", "given"), [
    ("request_extension", "unit", {"amount": 2, "reason": "需协调"}),
    ("request_extension", "amount", {"unit": "WORKING_HOURS", "reason": "需协调"}),
])
def test_the_service_requires_the_required_inputs(loop, action, missing, given):
    # given a case being handled
    case = _in_progress(loop)
    # when the action is taken without a required input
    with pytest.raises(ValidationError) as caught:
        case_transition(case=case, actor=loop.handler, action=action, **given)
    # then the error names the missing field
    assert list(caught.value.message_dict) == [missing]
    assert not CaseRequest.objects.filter(case=case).exists()


def test_a_merge_without_its_target_names_the_field(loop):
    # given a reported case
    case = _report(loop)
    # when the office merges it without saying into which case
    with pytest.raises(ValidationError) as caught:
        case_transition(case=case, actor=loop.office, action="merge", reason="重复")
    # then the error names `into`
    assert "into" in caught.value.message_dict


# --------------------------------------------------------------------------- the guard of decisions
@pytest.mark.parametrize("action", [t.action for t in TABLE if t.decides])
def test_a_decision_is_offered_and_taken_only_while_an_application_waits(loop, action):
    # given a case being handled with no application waiting
    case = _in_progress(loop)
    # then the decision is not offered to the office, and taking it is refused
    assert action not in actions_for(loop.office, case)
    with pytest.raises(ValidationError):
        case_transition(case=case, actor=loop.office, action=action, reason="不同意")
    # when the handler applies
    kind = TRANSITIONS[action].decides
    if kind == "EXTENSION":
        case = case_transition(case=case, actor=loop.handler, action="request_extension", amount=2,
                               unit="WORKING_HOURS", reason="需协调")
    else:
        case = case_transition(case=case, actor=loop.handler, action="request_parking", reason="待资金")
    # then the decision is offered, and taken
    assert action in actions_for(loop.office, case)
    case_transition(case=case, actor=loop.office, action=action, reason="不同意")
    assert not CaseRequest.objects.filter(case=case, state=CaseRequest.State.PENDING).exists()


# --------------------------------------------------------------------------- the extension's clock
def test_an_approved_extension_moves_the_limit_by_the_clock_rule(loop):
    # given a case being handled, with an extension of two working hours applied for
    case = _in_progress(loop)
    stage = case.stages.filter(completed_at__isnull=True).order_by("order").first()
    before = stage.due_at
    case = case_transition(case=case, actor=loop.handler, action="request_extension", amount=Decimal("2"),
                           unit="WORKING_HOURS", reason="需协调")
    # when the office approves it
    case = case_transition(case=case, actor=loop.office, action="approve_extension")
    # then the open stage's limit moved later, the event records the new limit, the application is approved
    stage.refresh_from_db()
    assert stage.due_at > before and stage.extended_count == 1
    event = case.events.order_by("-seq").first()
    assert event.kind == "approve_extension"
    assert dt.datetime.fromisoformat(event.new_values["stage_due_at"]) == stage.due_at
    assert CaseRequest.objects.get(case=case).state == CaseRequest.State.APPROVED
    assert case.due_at == stage.due_at


# --------------------------------------------------------------------------- merge on both cases
def test_a_merge_writes_a_merge_event_on_both_cases(loop):
    # given two reports of the same problem
    first, second = _report(loop), _report(loop)
    # when the office merges the second into the first
    case_transition(case=second, actor=loop.office, action="merge", into=first.pk, reason="同一处")
    # then both cases record a `merge` event: the second reaches MERGED, the first keeps its state
    gone = CaseEvent.objects.filter(case=second).order_by("-seq").first()
    kept = CaseEvent.objects.filter(case=first).order_by("-seq").first()
    assert (gone.kind, gone.to_state) == ("merge", CaseState.MERGED)
    assert (kept.kind, kept.from_state, kept.to_state) == ("merge", CaseState.REPORTED, CaseState.REPORTED)
    assert kept.actor_id == loop.office.pk and kept.actor_role == gone.actor_role
    assert kept.new_values == {"merged_case": second.pk}
    assert not CaseEvent.objects.filter(kind="comment").exists()
    # and the first case's public page does not show it merged
    assert [state for state, _at in case_public_progress(first)] == ["REPORTED"]


# --------------------------------------------------------------------------- the watch bumps the version
def test_the_watch_bumps_the_version_when_it_changes_the_colour(loop):
    # given a case being handled
    case = _in_progress(loop)
    version = case.version
    stage = case.stages.filter(completed_at__isnull=True).order_by("order").first()
    # when the watch runs past the stage's limit
    watch.sla_watch(now=stage.due_at + dt.timedelta(minutes=1))
    # then the case turned red with a new version; a second run changes nothing
    case.refresh_from_db()
    assert case.sla_status == "OVERDUE" and case.version > version
    again = case.version
    watch.sla_watch(now=stage.due_at + dt.timedelta(minutes=2))
    case.refresh_from_db()
    assert case.version == again


def test_a_form_loaded_before_the_watch_turned_the_case_red_is_stale(loop):
    # given a case being handled, read by the office at this version
    case = _in_progress(loop)
    read = case.version
    stage = case.stages.filter(completed_at__isnull=True).order_by("order").first()
    watch.sla_watch(now=max(stage.due_at, timezone.now()) + dt.timedelta(minutes=1))
    # when the office acts on what it read
    from gridgov.cases.errors import CaseConflict

    with pytest.raises(CaseConflict):
        case_transition(case=case, actor=loop.office, action="comment", note="督办", expected_version=read)


# --------------------------------------------------------------------------- evidence rules
def test_the_report_photo_stands_in_for_the_photo_before_on_the_spot(loop):
    # given a grid worker's report with a photo, handled on the spot with only a photo after
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.worker, channel=Channel.PATROL, matter="01002", lon=lon, lat=lat,
                       description="井盖松动", photos=[png()]).case
    # when it is handled on the spot without a photo before
    case = case_transition(case=case, actor=loop.worker, action="self_handle", after_photos=[png()])
    # then it is reported back with the photo after stored
    assert case.state == CaseState.REPORTED_BACK
    assert case.attachments.filter(purpose=Attachment.Purpose.AFTER).count() == 1


def test_an_action_carries_at_most_the_photo_limit_and_more_changes_nothing(loop):
    # given a case in progress with a department's handler
    case = _in_progress(loop)
    version = case.version
    # when the report-back carries one photo more than the limit
    with pytest.raises(ValidationError) as refused:
        case_transition(case=case, actor=loop.handler, action="report_back", note="修好了",
                        after_photos=[png((i, 0, 0)) for i in range(PHOTOS_MAX + 1)])
    # then the service refuses it naming the field, and the case is as it was, with no photo stored
    assert "after_photos" in refused.value.message_dict
    case.refresh_from_db()
    assert case.version == version and case.state == CaseState.IN_PROGRESS
    assert not case.attachments.filter(purpose=Attachment.Purpose.AFTER).exists()
    # and the limit itself is accepted
    case = case_transition(case=case, actor=loop.handler, action="report_back", note="修好了",
                           after_photos=[png((i, 0, 0)) for i in range(PHOTOS_MAX)])
    assert case.attachments.filter(purpose=Attachment.Purpose.AFTER).count() == PHOTOS_MAX
