"""Extension, parking, whistle and report-in, re-routing, first-receiver ownership, evaluation, the
reporter's protection and the report levels."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from gridgov.cases.grants import sees_reporter
from gridgov.cases.models import CaseRequest, Channel, Notification, ReportIn
from gridgov.cases.services import case_evaluate, case_report, case_transition, reporter_contact
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, point_in

WATER = {"kind": "DEPARTMENT", "department": "water"}


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _dispatched(loop, *, matter="01002", at=None):
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter=matter, lon=lon, lat=lat,
                       description="市民来电", reporter_phone="13912345678", at=at).case
    case = case_transition(case=case, actor=loop.office, action="register", at=at)
    return case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER, at=at)


def test_staged_limits_scaled_by_level_and_extension_moves_the_clock(loop):
    # given a major burst-pipe case dispatched at 09:00 on a working Monday
    start = timezone.make_aware(dt.datetime(2026, 11, 23, 9, 0))
    case = _dispatched(loop, at=start)
    stages = list(case.stages.order_by("order"))
    # then its three stages (3 h, 8 h clock; 5 working days) run at a quarter of the limits (major)
    assert [(s.amount, s.unit) for s in stages] == [(0.75, "CLOCK_HOURS"), (2, "CLOCK_HOURS"), (1, "WORKING_DAYS")]
    assert stages[0].due_at == start + dt.timedelta(minutes=45)
    assert stages[1].due_at == stages[0].due_at + dt.timedelta(hours=2)
    assert case.due_at == stages[0].due_at
    # when the handler applies for 2 more clock hours and the centre approves
    case = case_transition(case=case, actor=loop.handler, action="accept", at=start)
    case = case_transition(case=case, actor=loop.handler, action="request_extension", amount="2",
                           unit="CLOCK_HOURS", reason="管材调运", at=start)
    case = case_transition(case=case, actor=loop.centre, action="approve_extension", at=start)
    # then the open stage and the ones after it move by two hours
    moved = list(case.stages.order_by("order"))
    assert moved[0].due_at == stages[0].due_at + dt.timedelta(hours=2) and moved[0].extended_count == 1
    assert moved[1].due_at == stages[1].due_at + dt.timedelta(hours=2)
    assert CaseRequest.objects.get(case=case).state == CaseRequest.State.APPROVED


def test_parking_pauses_the_clock_and_resuming_shifts_it(loop):
    start = timezone.make_aware(dt.datetime(2026, 11, 23, 9, 0))
    case = _dispatched(loop, matter="10001", at=start)  # 4 working hours
    due = case.stages.get().due_at
    case = case_transition(case=case, actor=loop.handler, action="request_parking", reason="需区级资金", at=start)
    case = case_transition(case=case, actor=loop.office, action="approve_parking", at=start)
    assert case.state == CaseState.PARKED and case.parked_at == start
    # a working day later it is resumed: the limit moves by the working time spent parked
    later = timezone.make_aware(dt.datetime(2026, 11, 24, 9, 0))
    case = case_transition(case=case, actor=loop.office, action="unpark", reason="资金到位", at=later)
    assert case.state == CaseState.REGISTERED and case.parked_at is None
    assert case.stages.get().due_at == timezone.make_aware(dt.datetime(2026, 11, 24, 14, 30))
    assert due == timezone.make_aware(dt.datetime(2026, 11, 23, 14, 30))


def test_whistle_calls_departments_who_must_report_in(loop):
    case = _dispatched(loop)
    case = case_transition(case=case, actor=loop.leader, action="whistle", reason="涉及多部门",
                           departments=["police"])
    assert case.escalation_depth == loop.tree["community"].level.depth  # one level above the grid
    row = ReportIn.objects.get(escalation__case=case)
    assert row.reported_at is None
    police_user = loop.police_team.members.get()
    assert Notification.objects.filter(recipient=police_user, kind="whistle").exists()
    case = case_transition(case=case, actor=police_user, action="report_in", note="已到现场")
    row.refresh_from_db()
    assert row.reported_by == police_user and row.reported_at is not None
    # further whistles go higher, not sideways: street, then district (depth 0), then nowhere
    case = case_transition(case=case, actor=loop.centre, action="whistle", reason="社区协调不了")
    assert case.escalation_depth == loop.tree["street"].level.depth
    case = case_transition(case=case, actor=loop.centre, action="whistle", reason="街道协调不了", depth=0)
    assert case.escalation_depth == loop.tree["district"].level.depth
    with pytest.raises(ValidationError):
        case_transition(case=case, actor=loop.centre, action="whistle", reason="再吹")


def test_reroute_keeps_history_and_tells_the_new_handler(loop):
    case = _dispatched(loop, matter="10001")
    case = case_transition(case=case, actor=loop.office, action="reroute", reason="派错部门",
                           assignee={"kind": "COMMUNITY"})
    assert case.assignee_node == loop.tree["community"] and case.assignee_team is None
    event = case.events.order_by("-seq").first()
    assert event.kind == "reroute" and "派错部门" in event.note
    assert event.old_values["assignee_team_id"] == loop.water_team.pk
    assert Notification.objects.filter(recipient=loop.leader, case=case, kind="reroute").exists()
    with pytest.raises(ValidationError):
        case_transition(case=case, actor=loop.office, action="reroute", reason="again", assignee={"kind": "COMMUNITY"})


def test_first_receiver_owns_until_handed_on(loop):
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="10001", lon=lon, lat=lat,
                       description="来电").case
    assert case.owner == loop.office
    case = case_transition(case=case, actor=loop.centre, action="register")
    assert case.owner == loop.office  # registering does not take it from the first receiver
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee={"kind": "COMMUNITY"})
    case = case_transition(case=case, actor=loop.leader, action="accept")
    assert case.owner == loop.leader


def test_dissatisfied_evaluation_reopens(loop):
    case = _dispatched(loop, matter="10001")
    for who, action in (("handler", "accept"), ("handler", "report_back"), ("office", "verify_pass")):
        case = case_transition(case=case, actor=getattr(loop, who), action=action)
    case = case_evaluate(case=case, actor=loop.office, satisfaction=1)
    assert case.state == CaseState.IN_PROGRESS and case.rework_count == 1 and case.closed_at is None
    assert case.stages.filter(completed_at__isnull=True).count() == 1


def test_handler_does_not_see_the_reporter(loop):
    case = _dispatched(loop)
    assert not sees_reporter(loop.handler, case)
    assert sees_reporter(loop.office, case) and sees_reporter(loop.centre, case)
    assert case.reporter_phone_masked == "139****5678"
    assert "13912345678" not in case.reporter_phone_sealed
    assert reporter_contact(case)["phone"] == "13912345678"


def test_major_case_is_told_to_the_levels_above(loop):
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01002", lon=lon, lat=lat,
                       description="水管爆了").case
    assert case.report_level == "MAJOR"
    # the street office (depth 1) hears of it at once
    assert Notification.objects.filter(recipient=loop.office, case=case, kind="level_major").count() == 1


def test_bad_inputs_name_the_field(loop):
    lon, lat = point_in(loop.tree["g1"])
    base = dict(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, lon=lon, lat=lat, description="x")
    for extra, field in (({"matter": "99999"}, "matter"), ({"matter": "01001", "attributes": {"problem": "x"}},
                                                           "attributes.problem"),
                         ({"photos": [b"not an image"]}, "photos"), ({"reporter_phone": "123"}, "reporter_phone"),
                         ({"channel": "FAX"}, "channel"), ({"description": " "}, "description")):
        with pytest.raises(ValidationError) as err:
            case_report(**{**base, **extra})
        assert field in err.value.message_dict, (extra, err.value.message_dict)
    with pytest.raises(ValidationError) as err:
        case_report(actor=loop.worker, channel=Channel.PATROL, matter="01001", lon=lon, lat=lat, description="井盖")
    assert "photos" in err.value.message_dict  # the matter needs a photo of the problem


def test_attributes_are_checked_by_their_declared_type(loop):
    lon, lat = point_in(loop.tree["g1"])
    base = dict(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01001", lon=lon, lat=lat,
                description="井盖", photos=None)
    for attributes, key in (({}, "problem"), ({"problem": ["missing", "damaged"]}, "problem"),
                            ({"problem": "gone"}, "problem"), ({"colour": "red"}, "colour")):
        with pytest.raises(ValidationError) as err:
            case_report(**base, attributes=attributes)
        assert list(err.value.message_dict) == [f"attributes.{key}"]
    # a relayed hotline call may lack the answer; the registrar completes it
    case = case_report(**{**base, "actor": loop.office, "channel": Channel.HOTLINE}).case
    assert case.attributes == {}
    assert case_report(**base, attributes={"problem": "missing"}).case.attributes == {"problem": "missing"}


def test_an_attribute_error_names_the_attribute_by_its_label(loop):
    # given matter 01001, whose required attribute `problem` is described as 问题类型
    lon, lat = point_in(loop.tree["g1"])
    base = dict(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01001", lon=lon, lat=lat,
                description="井盖")
    # when a resident leaves it out, or answers it with a value it does not take
    for attributes in ({}, {"problem": "gone"}):
        with pytest.raises(ValidationError) as err:
            case_report(**base, attributes=attributes)
        # then the message names 问题类型, and the code stays in the key of the error mapping
        (message,) = err.value.message_dict["attributes.problem"]
        assert "问题类型" in message and "problem" not in message


def test_a_point_outside_the_chosen_cell_is_refused(loop):
    lon, lat = point_in(loop.tree["g2"])
    with pytest.raises(ValidationError) as err:
        case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001", node=loop.tree["g1"],
                    lon=lon, lat=lat, description="x")
    assert "location" in err.value.message_dict


def test_case_number_carries_the_local_date(loop):
    lon, lat = point_in(loop.tree["g1"])
    early = timezone.make_aware(dt.datetime(2026, 11, 24, 7, 30))  # 23:30 UTC the day before
    case = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001", lon=lon, lat=lat,
                       description="清晨占道", at=early).case
    assert case.number.startswith("20261124-")


def test_photo_metadata_is_stripped_before_storing():
    import io

    from PIL import Image

    from gridgov.cases.attachments import photo_check

    # given a phone photo with a GPS position in its EXIF
    image = Image.new("RGB", (40, 20), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SomePhone"  # Make
    exif[0x8825] = {2: (39.0, 54.0, 20.0), 1: "N"}  # GPS IFD
    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif)
    # when it is checked for storing
    photo = photo_check(buf.getvalue())
    # then what is kept carries no metadata
    with Image.open(io.BytesIO(photo.data)) as stored:
        assert not stored.getexif() and "exif" not in stored.info
        assert stored.size == (40, 20)
    # and a plain photo is kept byte for byte
    plain = io.BytesIO()
    Image.new("RGB", (8, 8)).save(plain, format="PNG")
    assert photo_check(plain.getvalue()).data == plain.getvalue()


def test_dispatch_to_a_person_who_is_not_a_grid_worker_of_the_cell_is_refused(loop):
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001",
                       lon=point_in(loop.tree["g1"])[0], lat=point_in(loop.tree["g1"])[1], description="x").case
    case = case_transition(case=case, actor=loop.office, action="register")
    for user in (loop.worker2, loop.handler):
        with pytest.raises(ValidationError) as err:
            case_transition(case=case, actor=loop.office, action="dispatch",
                            assignee={"kind": "GRID_WORKER", "user": user.pk})
        assert "assignee" in err.value.message_dict
    case = case_transition(case=case, actor=loop.office, action="dispatch",
                           assignee={"kind": "GRID_WORKER", "user": loop.worker.pk})
    assert case.assignee_user == loop.worker


def test_policy_shares_are_kept_in_range(loop):
    from django.db import IntegrityError, transaction

    from gridgov.cases.models import CasePolicy

    for field, value in (("warning_share", 1.5), ("warning_share", 0), ("verification_sample_share", 2)):
        with pytest.raises(IntegrityError), transaction.atomic():
            CasePolicy.objects.filter(scheme=loop.scheme).update(**{field: value})
