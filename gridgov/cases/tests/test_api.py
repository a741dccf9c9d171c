"""The cases API over HTTP: intake, scope, the reporter's protection, grants, conflicts, the whole loop,
files, the workflow table, notifications and routing rules."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from gridgov.accounts.tests.factories import api_client_for
from gridgov.cases.models import Attachment, Case, CaseEvent, Channel, Notification, RoutingRule
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.privacy.models import AccessKind, AccessLog
from gridgov.territory.tests.factories import make_scheme, make_tree

URL = "/api/cases/"
PHONE = "13812345678"


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def upload(data: bytes | None = None, name: str = "photo.png", content_type: str = "image/png"):
    return SimpleUploadedFile(name, png() if data is None else data, content_type=content_type)


def report_body(loop, cell="g1", **extra) -> dict:
    lon, lat = point_in(loop.tree[cell])
    return {"channel": "HOTLINE", "matter": "02001", "lon": lon, "lat": lat, "description": "占道经营", **extra}


def hotline_case(loop, *, cell="g1", matter="02001", photos=None) -> Case:
    """A hotline call taken by the street office, with the caller's phone."""
    lon, lat = point_in(loop.tree[cell])
    return case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter=matter, lon=lon, lat=lat,
                       description="井盖丢了" if matter == "01001" else "占道经营", reporter_name="张三",
                       reporter_phone=PHONE, photos=photos, attributes={"problem": "missing"} if matter == "01001"
                       else None).case


def dispatched_to_water(loop) -> Case:
    case = hotline_case(loop, matter="01001", photos=[png()])
    case = case_transition(case=case, actor=loop.office, action="register")
    return case_transition(case=case, actor=loop.office, action="dispatch",
                           assignee={"kind": "DEPARTMENT", "department": "water"})


def act(client, case_id, **body):
    return client.post(f"{URL}{case_id}/actions/", body, format="json")


# ----------------------------------------------------------------------------------------------- intake
def test_intake_json_creates_a_case_and_answers_it(loop):
    # given a grid worker on patrol in grid 1
    client = api_client_for(loop.worker)
    # when they report a street vendor as JSON
    response = client.post(URL, report_body(loop, channel="PATROL"), format="json")
    # then the case is created in grid 1 and answered with its number, actions and no duplicates
    assert response.status_code == 201, response.json()
    body = response.json()
    case = Case.objects.get()
    assert body["id"] == case.pk and body["number"] == case.number and body["state"] == "REPORTED"
    assert body["node"]["id"] == loop.tree["g1"].pk and body["matter"]["code"] == "02001"
    assert body["duplicates"] == [] and body["version"] == 1
    assert body["reporter"] == {"user": loop.worker.username, "phone": "", "anonymous": False}
    assert response["Location"].endswith(f"/api/cases/{case.pk}/")


def test_intake_multipart_with_a_real_photo(loop):
    # given a photo of a missing manhole cover
    client = api_client_for(loop.office)
    data = png((10, 20, 30))
    # when the hotline operator reports it as multipart with the caller's phone
    response = client.post(URL, {**report_body(loop, matter="01001", description="井盖丢了", reporter_phone=PHONE,
                                               reporter_name="张三", attributes='{"problem": "missing"}'),
                                 "photos": [upload(data)]}, format="multipart")
    # then the photo is stored by its hash and the phone is answered masked only
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [a["sha256"] for a in body["attachments"]] == [hashlib.sha256(data).hexdigest()]
    assert body["attachments"][0]["content_type"] == "image/png" and body["attachments"][0]["purpose"] == "REPORT"
    assert body["reporter"]["phone"] != PHONE and body["reporter"]["phone"].endswith("5678")
    assert PHONE not in response.content.decode() and "张三" not in response.content.decode()
    assert "reporter_phone_sealed" not in body and "reporter_name_sealed" not in body


def test_idempotency_key_replay_returns_the_same_case_with_200(loop):
    # given a report sent with an Idempotency-Key
    client = api_client_for(loop.office)
    first = client.post(URL, report_body(loop), format="json", HTTP_IDEMPOTENCY_KEY="call-0001")
    # when the client sends it again with the same key
    again = client.post(URL, report_body(loop), format="json", HTTP_IDEMPOTENCY_KEY="call-0001")
    # then the first case comes back with 200 and nothing else is created
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and Case.objects.count() == 1


def test_nearby_open_case_is_offered_as_duplicate(loop):
    # given an open case of the same matter at the same spot
    client = api_client_for(loop.office)
    first = client.post(URL, report_body(loop), format="json").json()
    # when a second one is reported
    second = client.post(URL, report_body(loop, description="又有占道"), format="json")
    # then the first is offered, with its distance
    assert second.status_code == 201
    assert [(d["id"], d["state"]) for d in second.json()["duplicates"]] == [(first["id"], "REPORTED")]
    assert client.get(f"{URL}{second.json()['id']}/duplicates/").json()[0]["distance_m"] == 0.0


@pytest.mark.parametrize(("change", "field"), [
    ({"matter": "99999"}, "matter"),
    ({"lon": 10.0, "lat": 10.0}, "location"),
    ({"channel": "CAMERA"}, "channel"),
    ({"channel": "OPEN311"}, "channel"),
    ({"description": ""}, "description"),
    ({"reporter_phone": "not a phone"}, "reporter_phone"),
])
def test_bad_json_intake_names_the_field_and_creates_nothing(loop, change, field):
    # given a report with one bad part
    client = api_client_for(loop.office)
    # when it is sent
    response = client.post(URL, report_body(loop, **change), format="json")
    # then it is refused naming the field, and nothing is written
    assert response.status_code == 400 and field in response.json(), response.json()
    assert Case.objects.count() == 0 and CaseEvent.objects.count() == 0


@pytest.mark.parametrize(("photos", "field"), [
    (lambda: [upload(png(size=(64, 64)))], "photos"),  # larger than the limit set below
    (lambda: [upload(b"%PDF-1.4 not an image", name="scan.png")], "photos"),
    (lambda: [], "photos"),  # a patrol report of a manhole cover needs a photo
])
def test_bad_photos_are_refused_and_nothing_is_stored(loop, settings, photos, field):
    # given a small photo limit and a grid worker reporting a missing manhole cover
    settings.CASE_PHOTO_MAX_BYTES = 150
    client = api_client_for(loop.worker)
    body = report_body(loop, channel="PATROL", matter="01001", description="井盖丢了")
    # when the report carries an oversize photo, a file that is no image, or no photo at all
    response = client.post(URL, {**body, "photos": photos()}, format="multipart")
    # then it is refused naming the field, and no case or attachment is written
    assert response.status_code == 400 and field in response.json(), response.json()
    assert Case.objects.count() == 0 and Attachment.objects.count() == 0


# ------------------------------------------------------------------------------------------------ scope
def test_grid_worker_of_another_grid_gets_404(loop):
    # given a case in grid 1 that does not involve the grid worker of grid 2
    case = hotline_case(loop, photos=[png()])
    attachment = case.attachments.get()
    client = api_client_for(loop.worker2)
    # when they ask for it in any way
    answers = [client.get(f"{URL}{case.pk}/"), client.get(f"{URL}{case.pk}/timeline/"),
               client.get(f"{URL}{case.pk}/duplicates/"), client.get(f"{URL}{case.pk}/attachments/{attachment.pk}/"),
               act(client, case.pk, action="register"),
               client.post(f"{URL}{case.pk}/reveal-reporter/", {"purpose": "回访核实"}, format="json")]
    # then it does not exist for them, and their list does not hold it
    assert [r.status_code for r in answers] == [404] * 6
    assert client.get(URL).json()["results"] == []
    assert api_client_for(loop.worker).get(URL).json()["count"] == 1


def test_department_handler_sees_its_case_but_not_the_reporter(loop):
    # given a hotline caller's case dispatched to the water department's team
    case = dispatched_to_water(loop)
    client = api_client_for(loop.handler)
    # when the team member reads the case and its timeline
    detail = client.get(f"{URL}{case.pk}/")
    timeline = client.get(f"{URL}{case.pk}/timeline/").json()
    # then they see the case and may accept it, but nothing of who reported it
    assert detail.status_code == 200
    body = detail.json()
    assert "reporter" not in body and "accept" in body["actions"]
    assert body["assignee"]["kind"] == "DEPARTMENT" and body["assignee"]["team"]["id"] == loop.water_team.pk
    assert timeline[0]["kind"] == "report" and timeline[0]["actor"] is None and timeline[0]["actor_role"] is None
    assert PHONE[-4:] not in detail.content.decode()
    reveal = client.post(f"{URL}{case.pk}/reveal-reporter/", {"purpose": "回访核实"}, format="json")
    assert reveal.status_code == 403 and AccessLog.objects.count() == 0
    # while the office that registered it does see the reporter
    office = api_client_for(loop.office).get(f"{URL}{case.pk}/").json()
    assert office["reporter"]["user"] == loop.office.username and office["reporter"]["phone"].endswith("5678")
    assert api_client_for(loop.office).get(f"{URL}{case.pk}/timeline/").json()[0]["actor"] == loop.office.username


def test_department_handler_does_not_see_the_reporter_after_accepting(loop):
    # given the water team member accepted the case (and so owns it now)
    case = dispatched_to_water(loop)
    client = api_client_for(loop.handler)
    assert act(client, case.pk, action="accept").status_code == 200
    assert Case.objects.get(pk=case.pk).owner == loop.handler
    # when they read it, its timeline, or ask for the contact
    body = client.get(f"{URL}{case.pk}/").json()
    timeline = client.get(f"{URL}{case.pk}/timeline/").json()
    reveal = client.post(f"{URL}{case.pk}/reveal-reporter/", {"purpose": "回访核实"}, format="json")
    # then who reported it is still hidden
    assert "reporter" not in body and timeline[0]["actor"] is None
    assert reveal.status_code == 403 and AccessLog.objects.count() == 0


# --------------------------------------------------------------------------------- grants and conflicts
def test_role_without_grant_gets_403_and_nothing_changes(loop):
    # given a hotline case in grid 1, visible to the grid worker of grid 1
    case = hotline_case(loop)
    # when the grid worker tries to register it (only the centre, the office and the owner may)
    response = act(api_client_for(loop.worker), case.pk, action="register")
    # then it is forbidden and the case is unchanged
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.state == CaseState.REPORTED and case.version == 1


def test_wrong_state_is_409(loop):
    # given a case just reported
    case = hotline_case(loop)
    # when the office tries to close it
    response = act(api_client_for(loop.office), case.pk, action="verify_pass")
    # then it is a conflict about the state
    assert response.status_code == 409
    assert response.json()["code"] == "state" and response.json()["state"] == "REPORTED"
    assert response.json()["version"] == 1 and response.json()["detail"]


def test_stale_version_is_409_by_body_and_by_if_match(loop):
    # given a case at version 1
    case = hotline_case(loop)
    client = api_client_for(loop.office)
    # when an action names another version, in the body or in If-Match
    by_body = act(client, case.pk, action="register", expected_version=2)
    by_header = client.post(f"{URL}{case.pk}/actions/", {"action": "register"}, format="json", HTTP_IF_MATCH='"7"')
    garbage = client.post(f"{URL}{case.pk}/actions/", {"action": "register"}, format="json", HTTP_IF_MATCH="soon")
    # then it is a version conflict (or bad input), and the case is unchanged
    assert by_body.status_code == 409 and by_body.json()["code"] == "version" and by_body.json()["version"] == 1
    assert by_header.status_code == 409 and by_header.json()["code"] == "version"
    assert garbage.status_code == 400 and "If-Match" in garbage.json()
    assert Case.objects.get(pk=case.pk).version == 1
    # and with the version read (its ETag) it goes through
    etag = client.get(f"{URL}{case.pk}/")["ETag"]
    ok = client.post(f"{URL}{case.pk}/actions/", {"action": "register"}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200 and ok.json()["state"] == "REGISTERED" and ok.json()["version"] == 2


def test_action_input_it_does_not_take_or_needs(loop):
    # given a registered case
    case = case_transition(case=hotline_case(loop), actor=loop.office, action="register")
    client = api_client_for(loop.office)
    # when an action gets a field it does not take, or misses its reason
    extra = act(client, case.pk, action="dispatch", satisfaction=5)
    no_reason = act(client, case.pk, action="merge", into=str(case.pk))
    # then each is refused naming the field
    assert extra.status_code == 400 and "satisfaction" in extra.json()
    assert no_reason.status_code == 400 and "reason" in no_reason.json()


def test_merge_target_outside_scope_is_unknown(loop, scheme):
    # given a case in grid 2 the grid worker of grid 1 cannot see, and one of theirs
    other = hotline_case(loop, cell="g2")
    lon, lat = point_in(loop.tree["g1"])
    mine = case_report(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                       description="占道").case
    # when they (its owner) merge theirs into the case they cannot see
    response = act(api_client_for(loop.worker), mine.pk, action="merge", into=other.number, reason="同一摊位")
    # then the target is unknown to them
    assert response.status_code == 400 and "into" in response.json()
    assert Case.objects.get(pk=mine.pk).state == CaseState.REPORTED


# ------------------------------------------------------------------------------------------- whole loop
def test_the_whole_loop_over_http(loop):
    office, handler = api_client_for(loop.office), api_client_for(loop.handler)
    # given a hotline report of a missing manhole cover with a photo
    created = office.post(URL, {**report_body(loop, matter="01001", description="井盖丢了", reporter_phone=PHONE,
                                              attributes='{"problem": "missing"}'),
                                "photos": [upload()]}, format="multipart")
    assert created.status_code == 201, created.json()
    case_id = created.json()["id"]
    # when the office registers it and dispatches it to the water department
    assert act(office, case_id, action="register").json()["state"] == "REGISTERED"
    dispatched = act(office, case_id, action="dispatch", assignee={"kind": "DEPARTMENT", "department": "water"})
    assert dispatched.status_code == 200, dispatched.json()
    assert dispatched.json()["assignee"]["team"]["id"] == loop.water_team.pk
    assert len(dispatched.json()["stages"]) == 2 and dispatched.json()["sla_status"] == "ON_TIME"
    # and the team accepts it, reports back with a photo after the repair
    assert case_id in [c["id"] for c in handler.get(f"{URL}inbox/").json()["results"]]
    assert act(handler, case_id, action="accept").json()["state"] == "IN_PROGRESS"
    without_photo = act(handler, case_id, action="report_back")
    assert without_photo.status_code == 400 and "after_photos" in without_photo.json()
    back = handler.post(f"{URL}{case_id}/actions/", {"action": "report_back", "note": "已补齐井盖",
                                                     "after_photos": [upload(png((0, 200, 0)))]},
                        format="multipart")
    assert back.status_code == 200, back.json()
    assert back.json()["state"] == "REPORTED_BACK"
    # and the office verifies it and evaluates the result
    assert act(office, case_id, action="verify_pass").json()["state"] == "CLOSED"
    evaluated = act(office, case_id, action="evaluate", satisfaction=5)
    # then the case is evaluated, with every step on its timeline numbered without gaps
    assert evaluated.status_code == 200 and evaluated.json()["state"] == "EVALUATED"
    assert evaluated.json()["satisfaction"] == 5 and evaluated.json()["actions"] == ["comment"]
    timeline = office.get(f"{URL}{case_id}/timeline/").json()
    assert [e["kind"] for e in timeline] == ["report", "register", "dispatch", "accept", "report_back", "verify_pass",
                                             "evaluate"]
    assert [e["seq"] for e in timeline] == list(range(1, 8))
    assert timeline[4]["note"] == "已补齐井盖" and timeline[4]["attachments"][0]["purpose"] == "AFTER"
    assert {a["purpose"] for a in evaluated.json()["attachments"]} == {"REPORT", "AFTER"}


def test_low_satisfaction_reopens_the_case(loop):
    # given a closed case
    case = dispatched_to_water(loop)
    case = case_transition(case=case, actor=loop.handler, action="accept")
    case = case_transition(case=case, actor=loop.handler, action="report_back", after_photos=[png((1, 2, 3))])
    case = case_transition(case=case, actor=loop.office, action="verify_pass")
    # when the evaluation is poor
    response = act(api_client_for(loop.office), case.pk, action="evaluate", satisfaction=1, reason="井盖又松了")
    # then the case is handled again
    assert response.status_code == 200 and response.json()["state"] == "IN_PROGRESS"
    assert response.json()["rework_count"] == 1


# --------------------------------------------------------------------------------------- files, reveal
def test_attachment_download_is_scoped_and_safe(loop):
    # given a case with a photo
    data = png((90, 90, 90))
    case = hotline_case(loop, photos=[data])
    row = case.attachments.get()
    other = hotline_case(loop, cell="g2")
    client = api_client_for(loop.office)
    # when the office downloads it
    response = client.get(f"{URL}{case.pk}/attachments/{row.pk}/")
    # then the file comes with its stored type, not sniffable, named only by its hash
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="{row.sha256}.png"'
    # and it is not reachable through another case, nor by a user outside the scope
    assert client.get(f"{URL}{other.pk}/attachments/{row.pk}/").status_code == 404
    assert api_client_for(loop.worker2).get(f"{URL}{case.pk}/attachments/{row.pk}/").status_code == 404


def test_reveal_reporter_is_logged(loop):
    # given a hotline case whose caller left a name and phone
    case = hotline_case(loop)
    client = api_client_for(loop.office)
    # when the office reveals the contact without a purpose, then with one
    refused = client.post(f"{URL}{case.pk}/reveal-reporter/", {"purpose": "x"}, format="json")
    response = client.post(f"{URL}{case.pk}/reveal-reporter/", {"purpose": "回访核实处理结果"}, format="json")
    # then the first is refused naming the purpose, the second answers in clear and is logged once
    assert refused.status_code == 400 and "purpose" in refused.json()
    assert response.status_code == 200
    assert response.json() == {"user": loop.office.username, "name": "张三", "phone": PHONE, "anonymous": False}
    log = AccessLog.objects.get()
    assert (log.user, log.kind, log.record_type, log.record_id) == (loop.office, AccessKind.REVEAL, "case", case.pk)
    assert log.fields == "reporter_name,reporter_phone" and log.purpose == "回访核实处理结果"
    assert log.node_id == case.node_id


# ------------------------------------------------------------------------------------- lists and inbox
def test_list_filters(loop):
    # given cases in both grids, one of them registered
    first = hotline_case(loop, cell="g1")
    second = hotline_case(loop, cell="g2", matter="01001")
    case_transition(case=second, actor=loop.office, action="register")
    client = api_client_for(loop.office)

    def ids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.json()
        return [c["id"] for c in response.json()["results"]]

    # when the list is filtered, then it holds what matches
    assert ids(state="REGISTERED") == [second.pk]
    assert sorted(ids(state=["REGISTERED", "REPORTED"])) == sorted([first.pk, second.pk])
    assert ids(node=loop.tree["g1"].pk) == [first.pk]
    assert sorted(ids(node=loop.tree["community"].pk)) == sorted([first.pk, second.pk])
    assert ids(matter="01001") == [second.pk] and ids(category="02") == [first.pk]
    assert ids(channel="RESIDENT") == [] and ids(overdue="true") == []
    assert ids(ordering="id") == [first.pk, second.pk] and ids(ordering="-id") == [second.pk, first.pk]
    assert ids(reported_after="2020-01-01T00:00:00Z", limit=1) == [second.pk]
    assert client.get(URL, {"reported_after": "0001-01-01T00:00:00+14:00"}).status_code == 400
    assert client.get(URL, {"state": "NOPE"}).status_code == 400


def test_notifications_are_own_and_marked_read(loop):
    # given the water team told of a dispatched case
    dispatched_to_water(loop)
    client = api_client_for(loop.handler)
    # when the team member lists and reads their notifications
    rows = client.get(f"{URL}notifications/").json()["results"]
    # then they see theirs, and marking one read sets it
    assert rows and rows[0]["read_at"] is None and rows[0]["kind"] == "dispatch"
    read = client.post(f"{URL}notifications/{rows[0]['id']}/read/")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert client.get(f"{URL}notifications/", {"unread": "true"}).json()["results"] == []
    # and another user cannot touch them
    assert api_client_for(loop.worker2).post(f"{URL}notifications/{rows[0]['id']}/read/").status_code == 404
    assert Notification.objects.filter(recipient=loop.handler, read_at__isnull=False).count() == 1


def test_workflow_table(loop):
    # when anyone logged in asks for the workflow
    response = api_client_for(loop.handler).get(f"{URL}workflow/")
    # then the states, the actions and the diagram come back
    assert response.status_code == 200
    body = response.json()
    assert "REPORTED" in [s["key"] for s in body["states"]]
    dispatch = next(a for a in body["actions"] if a["action"] == "dispatch")
    assert dispatch["from"] == ["REGISTERED"] and dispatch["to"] == "DISPATCHED" and dispatch["clock"] == "START"
    assert body["mermaid"].startswith("stateDiagram-v2")
    assert APIClient().get(f"{URL}workflow/").status_code in (401, 403)


# ----------------------------------------------------------------------------------------- routing rules
def test_routing_rules_are_listed_in_scope_and_written_with_permission(loop):
    rules = f"{URL}routing-rules/"
    square = {"type": "Polygon", "coordinates": [[[116.0, 40.0], [116.05, 40.0], [116.05, 40.1], [116.0, 40.0]]]}
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    other_scheme = make_scheme()
    make_tree(other_scheme, origin=(117.0, 40.0))
    from gridgov.accounts.models import Department

    Department.objects.create(scheme=other_scheme, key="roads", name_zh="交通局")
    # given the office (in scope, no permission to write) and the centre
    office, centre = api_client_for(loop.office), api_client_for(loop.centre)
    body = {"scheme": loop.scheme.key, "order": 15, "name": "水务夜间", "target": "DEPARTMENT",
            "department": "water", "polygon": square, "time_from": "22:00", "time_to": "06:00"}
    # when the office lists and tries to write, then it reads its scheme's rules but may not write
    assert [r["order"] for r in office.get(rules).json()["results"]] == [10, 20, 90]
    assert office.post(rules, body, format="json").status_code == 403
    assert api_client_for(loop.handler).get(rules).json()["results"] == []
    # when the centre writes bad rules, then each is refused naming the field
    for change, field in (({"polygon": bowtie}, "polygon"), ({"polygon": {"type": "Point", "coordinates": [1, 2]}},
                                                               "polygon"),
                          ({"department": "roads"}, "department"), ({"order": 10}, "order"),
                          ({"time_to": None}, "time_to"), ({"department": ""}, "department"),
                          ({"scheme": "nope"}, "scheme")):
        response = centre.post(rules, {**body, **change}, format="json")
        assert response.status_code == 400 and field in response.json(), (change, response.json())
    # and a good one is created and can be changed
    created = centre.post(rules, body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["department"] == "water" and created.json()["polygon"] == square
    changed = centre.patch(f"{rules}{created.json()['id']}/", {"active": False, "name": "停用"}, format="json")
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert RoutingRule.objects.get(pk=created.json()["id"]).name == "停用"
    # and a rule cases were routed by is kept: deactivate it instead
    dispatched = dispatched_to_water(loop)
    assert dispatched.routing_rule is None  # explicit assignee
    case = hotline_case(loop, matter="01001", photos=[png()])
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch")
    used = case.routing_rule
    assert centre.delete(f"{rules}{used.pk}/").status_code == 400
    assert centre.delete(f"{rules}{created.json()['id']}/").status_code == 204
