"""The seven steps end to end through the services, and the rules around them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from gridgov.cases.errors import ActionForbidden, CaseConflict
from gridgov.cases.models import Case, CaseEvent, Channel, SlaStatus
from gridgov.cases.services import case_evaluate, case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def test_seven_steps_handover_to_a_department(loop):
    # given a resident's report of a missing manhole cover in grid 1
    lon, lat = point_in(loop.tree["g1"])
    result = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01001", lon=lon, lat=lat,
                         description="井盖丢了", photos=[png()], reporter_phone="13812345678",
                         attributes={"problem": "missing"})
    case = result.case
    assert case.node == loop.tree["g1"] and case.state == CaseState.REPORTED and case.owner is None
    # when the centre registers and dispatches it (routing picks the water department's team)
    case = case_transition(case=case, actor=loop.office, action="register")
    assert case.owner == loop.office
    case = case_transition(case=case, actor=loop.office, action="dispatch")
    assert case.assignee_team == loop.water_team and case.routing_rule.name == "水务事项"
    assert case.sla_status == SlaStatus.ON_TIME and case.stages.count() == 2
    # and the department accepts, fixes it and reports back with a photo
    case = case_transition(case=case, actor=loop.handler, action="accept")
    case = case_transition(case=case, actor=loop.handler, action="complete_stage", photos=[png((0, 0, 200))])
    with pytest.raises(ValidationError) as err:
        case_transition(case=case, actor=loop.handler, action="report_back")
    assert "after_photos" in err.value.message_dict
    case = case_transition(case=case, actor=loop.handler, action="report_back", after_photos=[png((0, 200, 0))])
    case = case_transition(case=case, actor=loop.office, action="verify_pass")
    case = case_evaluate(case=case, actor=loop.office, satisfaction=5)
    # then the case is evaluated and its timeline holds every step in order
    assert case.state == CaseState.EVALUATED and case.satisfaction == 5
    kinds = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("kind", flat=True))
    assert kinds == ["report", "register", "dispatch", "accept", "complete_stage", "report_back", "verify_pass",
                     "evaluate"]
    assert list(CaseEvent.objects.filter(case=case).values_list("seq", flat=True)) == list(range(1, 9))
    assert case.attachments.count() == 3


def test_action_in_wrong_state_and_by_wrong_role_change_nothing(loop):
    lon, lat = point_in(loop.tree["g2"])
    case = case_report(actor=loop.worker2, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                       description="占道经营").case
    with pytest.raises(CaseConflict):
        case_transition(case=case, actor=loop.office, action="verify_pass")
    with pytest.raises(ActionForbidden):
        case_transition(case=case, actor=loop.handler, action="register")
    case.refresh_from_db()
    assert case.state == CaseState.REPORTED and case.version == 1 and case.events.count() == 1


def test_grid_worker_dispatch_needs_admission(loop):
    from gridgov.catalogue.models import DutyList

    DutyList.objects.create(scheme=loop.scheme, key="grid", name_zh="网格员自办事项清单")  # empty list
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001", lon=lon, lat=lat,
                       description="占道").case
    case = case_transition(case=case, actor=loop.office, action="register")
    with pytest.raises(ValidationError) as err:
        case_transition(case=case, actor=loop.office, action="dispatch", assignee={"kind": "GRID_WORKER"})
    assert "not on an admitted duty list" in str(err.value)
    case.refresh_from_db()
    assert case.state == CaseState.REGISTERED


def test_self_handled_on_the_spot(loop):
    lon, lat = point_in(loop.tree["g1"])
    result = case_report(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                         description="占道经营，已劝离", self_handled=True, before_photos=[png()],
                         after_photos=[png((0, 200, 0))])
    case = result.case
    assert case.state in (CaseState.CLOSED, CaseState.REPORTED_BACK)
    assert case.handling_mode == "SELF"
    assert case.stages.filter(completed_at__isnull=True).count() == 0


def test_idempotency_key_makes_one_case(loop):
    lon, lat = point_in(loop.tree["g1"])
    kw = dict(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001", lon=lon, lat=lat,
              description="占道", idempotency_key="k-1", client="app")
    first = case_report(**kw)
    again = case_report(**kw)
    assert first.created and not again.created and again.case.pk == first.case.pk
    assert Case.objects.count() == 1
    with pytest.raises(ValidationError):
        case_report(**{**kw, "description": "别的"})


def test_nearby_open_case_of_same_matter_is_offered_as_duplicate(loop):
    lon, lat = point_in(loop.tree["g1"])
    first = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001", lon=lon, lat=lat,
                        description="占道").case
    second = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001",
                         lon=lon + 0.0003, lat=lat, description="又占道")
    assert [c.pk for c, _d in second.duplicates] == [first.pk]
    merged = case_transition(case=second.case, actor=loop.centre, action="merge", into=first.pk, reason="同一摊位")
    assert merged.state == CaseState.MERGED and merged.merged_into_id == first.pk


def test_point_outside_every_cell_is_refused(loop):
    with pytest.raises(ValidationError) as err:
        case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001", lon=10.0, lat=10.0,
                    description="x")
    assert "location" in err.value.message_dict
    assert Case.objects.count() == 0


def test_events_cannot_be_changed_or_deleted(loop):
    from django.db import DatabaseError, connection, transaction

    from gridgov.core.db import append_only_install

    append_only_install(connection)  # (browser tests' teardown on SQLite lifts the guards)
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001", lon=lon, lat=lat,
                       description="占道").case
    event = case.events.get()
    with pytest.raises(DatabaseError), transaction.atomic():
        CaseEvent.objects.filter(pk=event.pk).update(note="改写")
    with pytest.raises(DatabaseError), transaction.atomic():
        CaseEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.note == ""
