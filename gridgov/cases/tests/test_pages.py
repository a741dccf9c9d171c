"""The staff case pages through the test client: the list with its filters and exports, the live queue,
the case page (actions, reporter, timeline, photos), the action forms (round trip, conflicts, errors)
and scope."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.utils import timezone
from openpyxl import load_workbook

from gridgov.cases import page_views
from gridgov.cases.forms import ACTION_FORMS, SYSTEM_ACTIONS
from gridgov.cases.grants import actions_for
from gridgov.cases.models import Attachment, Case, Channel, ReportIn
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.cases.transitions import TRANSITIONS
from gridgov.cases.watch import sla_watch
from gridgov.privacy.models import AccessKind, AccessLog

PHONE = "13812345678"
NAME = "张三丰"


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def login(client, user):
    client.force_login(user)
    return client


def hotline(loop, *, cell="g1", matter="02001", photos=None, at=None, description=None) -> Case:
    """A hotline call taken by the street office, with the caller's name and phone."""
    lon, lat = point_in(loop.tree[cell])
    return case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter=matter, lon=lon,
                       lat=lat, description=description or ("井盖丢了" if matter == "01001" else "占道经营"),
                       reporter_name=NAME, reporter_phone=PHONE, photos=photos, at=at,
                       attributes={"problem": "missing"} if matter == "01001" else None).case


def dispatched(loop, *, cell="g1", at=None) -> Case:
    """A manhole cover case registered and dispatched to the water department's team (at `at`)."""
    case = hotline(loop, cell=cell, matter="01001", photos=[png()], at=at)
    case = case_transition(case=case, actor=loop.office, action="register", at=at)
    return case_transition(case=case, actor=loop.office, action="dispatch", at=at,
                           assignee={"kind": "DEPARTMENT", "department": "water"})


def actions_on_page(html: str) -> set[str]:
    return set(re.findall(r'<a class="button[^"]*" href="[^"]*" hx-get="[^"]*"[^>]*data-action="([a-z_]+)"', html))


def numbers_on_page(html: str) -> list[str]:
    return re.findall(r'<tr data-case="([0-9-]+)">', html)


def photo(name="after.png", color=(10, 120, 30)):
    return SimpleUploadedFile(name, png(color), content_type="image/png")


# =========================================================================== list, filters, export
def test_list_shows_the_users_cases_only(loop, client):
    # given a case in each grid
    in_g1 = hotline(loop, cell="g1")
    in_g2 = hotline(loop, cell="g2")
    # when the grid worker of grid 1 and the centre open the list
    worker_page = login(client, loop.worker).get("/cases/")
    centre_page = login(client, loop.centre).get("/cases/")
    # then the worker sees grid 1's case only, the centre both, each linking to its case page
    assert worker_page.status_code == 200
    assert numbers_on_page(worker_page.content.decode()) == [in_g1.number]
    assert set(numbers_on_page(centre_page.content.decode())) == {in_g1.number, in_g2.number}
    assert f'href="/cases/{in_g2.number}/"' in centre_page.content.decode()
    assert centre_page["Cache-Control"].startswith("max-age=0") or "no-store" in centre_page["Cache-Control"]


def test_list_filters_by_cell_category_state_and_period(loop, client):
    # given cases of two matters in two grids, one registered, one reported last year
    vending_g1 = hotline(loop, cell="g1")
    manhole_g2 = hotline(loop, cell="g2", matter="01001")
    case_transition(case=manhole_g2, actor=loop.office, action="register")
    old = hotline(loop, cell="g1", at=timezone.now() - dt.timedelta(days=400), description="去年的占道")
    login(client, loop.centre)
    # when the centre filters by cell, by category, by state and by period
    by_cell = client.get("/cases/", {"cell": loop.tree["g2"].pk}).content.decode()
    by_code = client.get("/cases/", {"cell_code": loop.tree["g1"].code}).content.decode()
    by_category = client.get("/cases/", {"category": "01"}).content.decode()
    by_state = client.get("/cases/", {"state": ["REPORTED"]}).content.decode()
    today = timezone.localdate().isoformat()
    by_period = client.get("/cases/", {"from": today, "to": today}).content.decode()
    # then each shows exactly the matching cases
    assert numbers_on_page(by_cell) == [manhole_g2.number]
    assert set(numbers_on_page(by_code)) == {vending_g1.number, old.number}
    assert numbers_on_page(by_category) == [manhole_g2.number]
    assert set(numbers_on_page(by_state)) == {vending_g1.number, old.number}
    assert set(numbers_on_page(by_period)) == {vending_g1.number, manhole_g2.number}


def test_list_filters_by_department_and_report_level(loop, client):
    # given a case dispatched to the water department and a routine one left reported
    water = dispatched(loop)
    hotline(loop)
    login(client, loop.centre)
    # when the centre filters by the water department, then by the urgent level
    by_dept = client.get("/cases/", {"department": loop.water.pk}).content.decode()
    by_level = client.get("/cases/", {"report_level": ["URGENT", "MAJOR"]}).content.decode()
    # then only the water case is listed both times
    assert numbers_on_page(by_dept) == [water.number]
    assert numbers_on_page(by_level) == [water.number]


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"cell": "abc"}, "cell", "Enter a whole number"),
    ({"cell": "999999999"}, "cell", "no cell of your territory has this id"),
    ({"cell_code": "999999"}, "cell_code", "no cell of your territory has the code 999999"),
    ({"state": "NOPE"}, "state", "Select a valid choice"),
    ({"from": "2026-13-01"}, "from", "Enter a valid date"),
    ({"from": "2026-05-02", "to": "2026-05-01"}, "to", "the end of the period is before its start"),
    ({"format": "pdf"}, None, "Unknown export format pdf"),
])
def test_invalid_filters_say_which_field_is_wrong(loop, client, params, field, message):
    # given the street office on the list
    login(client, loop.office)
    # when a filter value is wrong
    response = client.get("/cases/", params)
    # then the page answers 400 and names the field and what is wrong, without listing anything
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html
    if field:
        assert re.search(rf'id="id_{field}_error"[^>]*>[^<]*{re.escape(message)}', html) or \
            (field == "state" and "has-errors" in html)
    assert "<tr data-case=" not in html


def _export_numbers(response, fmt: str) -> tuple[list[str], list[list]]:
    body = b"".join(response.streaming_content)
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(body), read_only=True).active
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    else:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    return [r[0] for r in rows[1:]], rows


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_holds_exactly_the_filtered_rows_of_every_page(loop, client, monkeypatch, fmt):
    # given five vending cases in grid 1, one in grid 2 and a manhole case in grid 1; pages of two rows
    monkeypatch.setattr(page_views, "PAGE_SIZE", 2)
    vending = [hotline(loop, cell="g1", description=f"占道 {i}") for i in range(5)]
    hotline(loop, cell="g2")
    hotline(loop, cell="g1", matter="01001")
    login(client, loop.centre)
    params = {"cell": loop.tree["g1"].pk, "matter": "02001"}
    # when the centre reads every page of the filtered list, then exports it
    shown, page = [], 1
    while True:
        html = client.get("/cases/", {**params, "page": page}).content.decode()
        shown += numbers_on_page(html)
        if f'page={page + 1}">' not in html:
            break
        page += 1
    response = client.get("/cases/", {**params, "format": fmt})
    # then the file holds the same cases in the same order, with bilingual headers and no reporter data
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    numbers, rows = _export_numbers(response, fmt)
    assert page == 3 and len(shown) == 5
    assert numbers == shown == [c.number for c in sorted(vending, key=lambda c: (c.reported_at, c.pk),
                                                         reverse=True)]
    assert rows[0][0].endswith("Case number") and any(str(h).endswith("Time-limit status") for h in rows[0])
    flat = " ".join(str(v) for r in rows for v in r)
    assert PHONE not in flat and NAME not in flat and "5678" not in flat


def test_export_link_keeps_the_filters(loop, client):
    # given a filtered list
    hotline(loop)
    login(client, loop.centre)
    html = client.get("/cases/", {"category": "02", "state": ["REPORTED", "REGISTERED"]}).content.decode()
    # then both export links carry the same filters
    assert 'href="?category=02&amp;state=REPORTED&amp;state=REGISTERED&amp;format=xlsx"' in html
    assert 'href="?category=02&amp;state=REPORTED&amp;state=REGISTERED&amp;format=csv"' in html


# =========================================================================== queue
def test_queue_counts_new_urgent_yellow_and_red(loop, client):
    # given a new routine case, a case dispatched 50 minutes ago (its first 1-hour stage yellow), one
    # dispatched 3 hours ago (red) and a closed urgent case, then the time-limit watch runs
    now = timezone.now()
    new = hotline(loop)
    yellow = dispatched(loop, at=now - dt.timedelta(minutes=50))
    red = dispatched(loop, at=now - dt.timedelta(hours=3))
    closed = dispatched(loop)
    for action in ("accept", "report_back"):
        closed = case_transition(case=closed, actor=loop.handler, action=action,
                                 after_photos=[png()] if action == "report_back" else None)
    case_transition(case=closed, actor=loop.office, action="verify_pass")
    sla_watch(now=now)
    login(client, loop.centre)
    # when the centre's page polls the queue
    response = client.get("/cases/queue/")
    html = response.content.decode()
    # then each section has its count, lists its cases and the fragment has no page around it
    assert response.status_code == 200 and "<html" not in html

    def section(key):
        match = re.search(rf'<section class="queue-section queue-{key}" id="queue-{key}" data-count="(\d+)"(.*?)</section>',
                          html, re.S)
        return int(match.group(1)), match.group(2)

    assert section("new")[0] == 1 and new.number in section("new")[1]
    assert section("urgent")[0] == 2 and closed.number not in section("urgent")[1]
    assert yellow.number in section("urgent")[1] and red.number in section("urgent")[1]
    assert section("warning")[0] == 1 and yellow.number in section("warning")[1]
    assert section("overdue")[0] == 1 and red.number in section("overdue")[1]


def test_queue_applies_the_list_filters(loop, client):
    # given new cases in both grids
    hotline(loop, cell="g1")
    in_g2 = hotline(loop, cell="g2")
    login(client, loop.centre)
    # when the queue is asked for grid 2, and with a wrong filter
    html = client.get("/cases/queue/", {"cell": loop.tree["g2"].pk}).content.decode()
    wrong = client.get("/cases/queue/", {"state": "NOPE"})
    # then it counts grid 2 only, and the wrong filter is a 400 naming it
    assert 'id="queue-new" data-count="1"' in html and in_g2.number in html
    assert wrong.status_code == 400 and "state" in wrong.content.decode()


def test_queue_is_cheap_to_poll(loop, client, django_assert_max_num_queries):
    # given a few cases in every section's reach, and the office (scoped to its street) polling
    for _i in range(3):
        hotline(loop)
        dispatched(loop)
    login(client, loop.office)
    client.get("/cases/queue/")  # the session and the user's scope are read once a request anyway
    # when the queue is polled with a cell filter
    with django_assert_max_num_queries(9):
        response = client.get("/cases/queue/", {"cell": loop.tree["g1"].pk, "category": "01"})
    # then session, user, scope, cell, one count query and one per non-empty section: at most 9
    assert response.status_code == 200 and 'id="queue-urgent" data-count="3"' in response.content.decode()


def test_queue_of_a_grid_worker_counts_their_territory_only(loop, client):
    # given new cases in both grids
    hotline(loop, cell="g1")
    hotline(loop, cell="g2")
    # when the worker of grid 1 polls the queue
    html = login(client, loop.worker).get("/cases/queue/").content.decode()
    # then only grid 1's case counts
    assert 'id="queue-new" data-count="1"' in html


# =========================================================================== detail
def test_detail_offers_exactly_the_users_actions(loop, client):
    # given a reported case and a case dispatched to the water team
    reported = hotline(loop, matter="01001", photos=[png()])
    water = dispatched(loop)
    # when the centre, the grid worker and the water handler open them
    pages = {}
    for who, user, case in [("centre", loop.centre, reported), ("worker", loop.worker, water),
                            ("handler", loop.handler, water), ("centre-water", loop.centre, water)]:
        response = login(client, user).get(f"/cases/{case.number}/")
        assert response.status_code == 200, who
        pages[who] = (actions_on_page(response.content.decode()), set(actions_for(user, case)) - SYSTEM_ACTIONS)
    # then each sees the buttons of exactly the actions the grants give them
    for who, (shown, allowed) in pages.items():
        assert shown == allowed, who
    assert {"register", "reject", "merge"} <= pages["centre"][0]
    assert {"accept", "return", "request_extension"} <= pages["handler"][0]
    assert "register" not in pages["handler"][0] and "accept" not in pages["centre-water"][0]
    assert pages["worker"][0] == {"whistle"}


def test_detail_shows_facts_photos_map_stages_and_timeline(loop, client):
    # given a dispatched case with a photo
    case = dispatched(loop)
    att = case.attachments.get()
    # when the centre opens it
    html = login(client, loop.centre).get(f"/cases/{case.number}/").content.decode()
    # then the facts, the photo from the scoped URL, the map data, the stages and the timeline are there
    assert case.number in html and "Manhole cover" in html and loop.tree["g1"].name in html
    assert loop.tree["community"].name in html  # the cell's chain
    assert f'src="/cases/{case.number}/attachments/{att.pk}/?size=thumb"' in html  # the thumbnail, linked to
    assert f'href="/cases/{case.number}/attachments/{att.pk}/"' in html  # the full photo
    assert 'id="case-map"' in html and 'id="case-map-data"' in html
    assert "设置警示" in html and "补齐修复" in html
    assert re.findall(r'<li data-kind="([a-z_]+)">', html) == ["report", "register", "dispatch"]
    assert "Registered" in html and "水务抢修队" in html


def test_reporter_is_hidden_from_the_handler_and_shown_masked_to_the_centre(loop, client):
    # given a hotline caller's case dispatched to the water team
    case = dispatched(loop)
    # when the handler and the centre open it
    handler_html = login(client, loop.handler).get(f"/cases/{case.number}/").content.decode()
    centre_html = login(client, loop.centre).get(f"/cases/{case.number}/").content.decode()
    # then the handler sees nothing of the caller, not even who took the report; the centre the masked phone
    assert "Who reported it" not in handler_html and "138****5678" not in handler_html
    assert PHONE not in handler_html and NAME not in handler_html
    report_item = re.search(r'<li data-kind="report">(.*?)</li>', handler_html, re.S).group(1)
    assert "via" not in report_item and not re.search(rf"\b{loop.office.username}\b", handler_html)
    assert "Who reported it" in centre_html and "138****5678" in centre_html
    assert PHONE not in centre_html and NAME not in centre_html
    assert loop.office.person.name in re.search(r'<li data-kind="report">(.*?)</li>', centre_html, re.S).group(1)


def test_reveal_the_reporter_with_a_purpose_is_logged(loop, client):
    # given a hotline case the centre may see the reporter of
    case = hotline(loop)
    url = f"/cases/{case.number}/reporter/"
    login(client, loop.centre)
    # when the centre reveals without a purpose, then with one
    empty = client.post(url, {"purpose": ""})
    revealed = client.post(url, {"purpose": "回访核实情况"})
    # then the first is refused with the reason, the second shows the contact and is logged
    assert empty.status_code == 400 and PHONE not in empty.content.decode()
    assert revealed.status_code == 200
    assert PHONE in revealed.content.decode() and NAME in revealed.content.decode()
    log = AccessLog.objects.get(kind=AccessKind.REVEAL)
    assert log.user == loop.centre and log.purpose == "回访核实情况"
    # and the handler of a dispatched case may not reveal
    water = dispatched(loop)
    assert login(client, loop.handler).post(f"/cases/{water.number}/reporter/", {"purpose": "想知道是谁"}).status_code \
        == 403


# =========================================================================== actions
def _form_version(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def _act(client, case, action, data, **extra):
    url = f"/cases/{case.number}/act/{action}/"
    form = client.get(url)
    assert form.status_code == 200, form.content.decode()
    return client.post(url, {"version": _form_version(form.content.decode()), **data}, **extra)


def test_the_loop_round_trip_through_the_forms(loop, client):
    # given a manhole cover reported on the hotline with a photo
    case = hotline(loop, matter="01001", photos=[png()])
    # when the centre registers and dispatches it, the water handler accepts and reports back with a
    # photo, and the centre closes it
    login(client, loop.centre)
    response = _act(client, case, "register", {"matter": "01001", "report_level": "URGENT",
                                               "handling_mode": "HANDOVER", "note": "确认"})
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.number}/"
    form = client.get(f"/cases/{case.number}/act/dispatch/").content.decode()
    assert re.search(rf'<option value="team:{loop.water_team.pk}" selected>', form)  # the routing suggestion
    response = _act(client, case, "dispatch", {"assignee": f"team:{loop.water_team.pk}"})
    assert response.status_code == 302
    login(client, loop.handler)
    assert _act(client, case, "accept", {"note": ""}).status_code == 302
    response = _act(client, case, "report_back", {"note": "已补齐井盖", "after_photos": [photo(), photo("b.png")]})
    assert response.status_code == 302
    login(client, loop.centre)
    response = _act(client, case, "verify_pass", {"note": "核实完成"}, follow=True)
    # then the case is closed, every step is an event, the photos are kept and the user was told
    case.refresh_from_db()
    assert case.state == CaseState.CLOSED and case.assignee_team == loop.water_team
    assert list(case.events.values_list("kind", flat=True)) == ["report", "register", "dispatch", "accept",
                                                                 "report_back", "verify_pass"]
    assert case.attachments.filter(purpose=Attachment.Purpose.AFTER).count() == 2
    assert "done for case" in response.content.decode()


def test_whistle_then_report_in_and_evaluate(loop, client):
    # given a dispatched case
    case = dispatched(loop)
    # when the centre blows the whistle calling the police in, a police officer reports in
    login(client, loop.centre)
    response = _act(client, case, "whistle", {"reason": "需要联合执法", "departments": ["police"]})
    assert response.status_code == 302
    officer = loop.police_team.members.get()
    login(client, officer)
    assert "report_in" in actions_on_page(client.get(f"/cases/{case.number}/").content.decode())
    assert _act(client, case, "report_in", {"note": "已到场"}).status_code == 302
    # then the report-in is recorded and shown on the case page
    row = ReportIn.objects.get()
    assert row.reported_by == officer and row.department == loop.police
    html = login(client, loop.centre).get(f"/cases/{case.number}/").content.decode()
    assert "Reported in:" in html and "派出所" in html


def test_evaluate_with_radio_buttons(loop, client):
    # given a closed case
    case = dispatched(loop)
    for action in ("accept", "report_back"):
        case = case_transition(case=case, actor=loop.handler, action=action,
                               after_photos=[png()] if action == "report_back" else None)
    case = case_transition(case=case, actor=loop.office, action="verify_pass")
    login(client, loop.centre)
    form = client.get(f"/cases/{case.number}/act/evaluate/").content.decode()
    # when the centre evaluates it 5
    response = _act(client, case, "evaluate", {"satisfaction": "5"})
    # then the form offered labelled radio buttons, and the case is evaluated
    assert len(re.findall(r'type="radio" name="satisfaction"', form)) == 5 and "very satisfied" in form
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.EVALUATED and case.satisfaction == 5


def test_stale_version_says_the_case_changed(loop, client):
    # given the centre's register form loaded, then someone else registers the case
    case = hotline(loop)
    login(client, loop.centre)
    url = f"/cases/{case.number}/act/register/"
    version = _form_version(client.get(url).content.decode())
    case_transition(case=case, actor=loop.office, action="register")
    # when the centre sends the form
    response = client.post(url, {"version": version, "matter": "02001", "report_level": "ROUTINE",
                                 "handling_mode": "SELF", "note": "我的备注"})
    # then it is a 409 telling them to reload, with their note kept; the case is as the other left it
    html = response.content.decode()
    assert response.status_code == 409
    assert "This case changed meanwhile — reload to see its current state." in html
    assert "我的备注" in html
    assert list(case.events.values_list("kind", flat=True)) == ["report", "register"]


def test_service_error_keeps_what_was_typed_and_asks_for_photos_again(loop, client):
    # given a case the water handler is handling (its matter needs a photo after)
    case = dispatched(loop)
    case = case_transition(case=case, actor=loop.handler, action="accept")
    login(client, loop.handler)
    # when they report back without the photo
    response = _act(client, case, "report_back", {"note": "已处理完毕，井盖已补"})
    # then the form comes back (400) naming the photo field, with the note kept and a word on the photos
    html = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'id="id_after_photos_error1">Report back needs a photo \(After handling\)', html)
    assert "已处理完毕，井盖已补" in html
    assert "choose them again" in html
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS


def test_form_error_keeps_typed_values(loop, client):
    # given a case in progress
    case = case_transition(case=dispatched(loop), actor=loop.handler, action="accept")
    login(client, loop.handler)
    # when the extension form is sent with a wrong amount
    response = _act(client, case, "request_extension", {"amount": "abc", "unit": "WORKING_DAYS",
                                                         "reason": "材料未到货"})
    # then the amount is marked and the reason and unit stay as typed
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_amount_error1">Enter a number.' in html
    assert "材料未到货" in html and '<option value="WORKING_DAYS" selected>' in html


def test_required_reason_is_asked_for(loop, client):
    # given a reported case
    case = hotline(loop)
    login(client, loop.centre)
    # when the centre rejects it without a reason
    response = _act(client, case, "reject", {"reason": ""})
    # then the reason field says it is required and nothing happened
    assert response.status_code == 400 and 'id="id_reason_error1">This field is required.' in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.REPORTED


def test_action_forms_refuse_what_is_not_open_to_the_user(loop, client):
    # given a reported case
    case = hotline(loop)
    # when the handler asks for the register form, the centre for accept (wrong state) and an unknown action
    forbidden = login(client, loop.handler).get(f"/cases/{case.number}/act/register/")
    login(client, loop.centre)
    wrong_state = client.get(f"/cases/{case.number}/act/accept/")
    unknown = client.get(f"/cases/{case.number}/act/fly/")
    system = client.get(f"/cases/{case.number}/act/auto_close/")
    # then: 404 for the handler (not in their scope), 409 for the wrong state, 404 for the unknown ones
    assert forbidden.status_code == 404
    assert wrong_state.status_code == 409 and "reload" in wrong_state.content.decode()
    assert unknown.status_code == 404 and system.status_code == 404


def test_posting_an_action_without_a_grant_is_403(loop, client):
    # given a dispatched case the grid worker of the cell may see but not accept
    case = dispatched(loop)
    login(client, loop.worker)
    url = f"/cases/{case.number}/act/accept/"
    # when the worker asks for the form and posts it anyway
    shown = client.get(url)
    posted = client.post(url, {"version": case.version, "note": ""})
    # then both are refused with 403 and the case did not move
    assert shown.status_code == 403 and posted.status_code == 403
    case.refresh_from_db()
    assert case.state == CaseState.DISPATCHED


def test_next_goes_back_to_a_local_page_only(loop, client):
    # given two reported cases
    first, second = hotline(loop), hotline(loop)
    login(client, loop.centre)
    # when one is rejected with next=/m/ and the other with an outside address
    local = _act(client, first, "reject", {"reason": "重复", "next": "/m/"})
    outside = _act(client, second, "reject", {"reason": "重复", "next": "https://evil.example/"})
    # then the first goes to /m/, the second back to its case
    assert local["Location"] == "/m/"
    assert outside["Location"] == f"/cases/{second.number}/"


def test_htmx_asks_for_the_form_as_a_fragment(loop, client):
    # given a reported case
    case = hotline(loop)
    login(client, loop.centre)
    # when the case page asks for the reject form through htmx, and a browser without JS asks for it
    fragment = client.get(f"/cases/{case.number}/act/reject/", HTTP_HX_REQUEST="true").content.decode()
    page = client.get(f"/cases/{case.number}/act/reject/?next=/centre/").content.decode()
    # then htmx gets the form alone, the browser a whole page carrying the next page to go to
    assert "<html" not in fragment and 'name="reason"' in fragment and '<label for="id_reason">' in fragment
    assert "<html" in page and 'name="next" value="/centre/"' in page


@pytest.mark.parametrize("action", sorted(ACTION_FORMS))
def test_every_action_form_renders_with_a_label_on_every_field(loop, action):
    # given a case dispatched to the water team, seen by the centre
    case = dispatched(loop)
    form = ACTION_FORMS[action](case=case, user=loop.centre, action=action, initial={"version": case.version})
    # when its form is drawn
    html = render_to_string("cases/_case_action_form.html", {
        "case": case, "action": action, "transition": TRANSITIONS[action], "form": form,
        "act_url": f"/cases/{case.number}/act/{action}/", "detail_url": f"/cases/{case.number}/"})
    # then it posts to the action with the case's version, and every field a user fills in has a label
    assert f'action="/cases/{case.number}/act/{action}/"' in html
    assert f'name="version" value="{case.version}"' in html
    fields = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html)
    assert fields, action
    for field_id in fields:
        assert f'<label for="{field_id}"' in html or f'<label class="visually-hidden" for="{field_id}"' in html \
            or f'<label class="choice" for="{field_id}"' in html, (action, field_id)
    if form.has_files:
        assert 'enctype="multipart/form-data"' in html and 'accept="image/*"' in html and "multiple" in html


def test_every_action_of_the_table_has_a_form():
    # given the workflow table
    # then every action a person takes has its form, and only the system's have none
    assert set(ACTION_FORMS) | SYSTEM_ACTIONS == set(TRANSITIONS)
    assert {"auto_close"} == SYSTEM_ACTIONS


# =========================================================================== scope and files
def test_a_case_outside_the_scope_is_404_everywhere(loop, client):
    # given a case with a photo in grid 1
    case = hotline(loop, photos=[png()])
    att = case.attachments.get()
    login(client, loop.worker2)  # the worker of grid 2
    # when the worker of grid 2 asks for its page, an action, its photo and its reporter
    urls = [f"/cases/{case.number}/", f"/cases/{case.number}/act/whistle/",
            f"/cases/{case.number}/attachments/{att.pk}/", f"/cases/{case.number}/reporter/"]
    # then each is a 404, and so is the right id with the wrong date
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/cases/{case.number}/act/whistle/", {"version": 1, "reason": "x"}).status_code == 404
    wrong_date = "19990101-" + case.number.split("-")[1]
    assert login(client, loop.centre).get(f"/cases/{wrong_date}/").status_code == 404


def test_attachment_is_streamed_in_scope_only(loop, client):
    # given a case with a photo in grid 1, and a photo of a case in grid 2
    data = png((1, 2, 3))
    case = hotline(loop, photos=[SimpleUploadedFile("p.png", data, content_type="image/png")])
    other = hotline(loop, cell="g2", photos=[png((4, 5, 6))])
    att, other_att = case.attachments.get(), other.attachments.get()
    login(client, loop.worker)
    # when the worker of grid 1 asks for the photo, and for grid 2's photo under their own case's number
    response = client.get(f"/cases/{case.number}/attachments/{att.pk}/")
    crossed = client.get(f"/cases/{case.number}/attachments/{other_att.pk}/")
    # then the first is the stored image, private; the second a 404
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == data
    assert "no-store" in response["Cache-Control"]
    assert crossed.status_code == 404


def test_anonymous_users_are_sent_to_log_in(loop, client):
    # given a case
    case = hotline(loop)
    # when nobody is logged in
    for url in ("/cases/", "/cases/queue/", f"/cases/{case.number}/"):
        response = client.get(url)
        # then the pages send to the login page
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
