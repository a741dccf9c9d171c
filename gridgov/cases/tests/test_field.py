"""The grid worker's phone pages (/m/): my cells and tasks, reporting a problem, the matter search and
the position reports."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from gridgov.accounts.models import PositionReport
from gridgov.accounts.selectors import node_public_people
from gridgov.cases.models import Attachment, Case, CasePolicy, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.cases.watch import sla_watch

INDEX = "/m/"
REPORT = "/m/report/"
POSITION = "/m/position/"


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def photo(name="problem.png", color=(200, 30, 30)):
    return SimpleUploadedFile(name, png(color), content_type="image/png")


def dispatched_to_worker(loop, cell, *, at=None, description="占道经营"):
    """A hotline case of street vending in `cell`, registered and dispatched (routing: the cell's grid worker)."""
    lon, lat = point_in(cell)
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001", lon=lon, lat=lat,
                       description=description, at=at).case
    case = case_transition(case=case, actor=loop.office, action="register", at=at)
    return case_transition(case=case, actor=loop.office, action="dispatch", at=at)


def report_data(loop, cell=None, **extra):
    lon, lat = point_in(cell or loop.tree["g1"])
    data = {"matter": "02001", "description": "路口有人占道经营", "lon": f"{lon:.7f}", "lat": f"{lat:.7f}",
            "accuracy": "12", "place": "幸福路口", "node": "", "token": "t-1", "photos": [photo()]}
    data.update(extra)
    return data


# =========================================================================== home
def test_home_shows_my_cells_people_in_charge_and_my_tasks_soonest_due_first(client, loop):
    # given two cases dispatched to the worker of grid 1 (one overdue since last week, one just now) and one
    # dispatched to the worker of grid 2
    last_week = timezone.now() - dt.timedelta(days=10)
    overdue = dispatched_to_worker(loop, loop.tree["g1"], at=last_week, description="上周的")
    fresh = dispatched_to_worker(loop, loop.tree["g1"], description="刚派的")
    other = dispatched_to_worker(loop, loop.tree["g2"], description="别人的")
    sla_watch()
    assert overdue.assignee_user == loop.worker and other.assignee_user == loop.worker2
    client.force_login(loop.worker)
    # when the worker opens the phone home page
    response = client.get(INDEX)
    # then it shows grid 1 with its chain, its people in charge with their work phones and its public card
    assert response.status_code == 200
    html = response.content.decode()
    assert "一网格" in html and "金海湖镇" in html and "白云寺村" in html
    for assignment in node_public_people(loop.tree["g1"]):
        assert assignment.person.name in html
        assert f'href="tel:{assignment.person.phone}"' in html
    g1 = loop.tree["g1"]
    assert reverse("territory:cell-card", args=[g1.scheme.key, g1.code]) in html
    # and my tasks, overdue first, with colour and words, but not the other worker's
    tasks = re.findall(r'data-case="([0-9-]+)"', html)
    assert tasks == [overdue.number, fresh.number]
    assert other.number not in html
    items = html.split('data-case="')
    assert "sla-OVERDUE" in items[1] and "overdue by" in items[1]
    assert "sla-ON_TIME" in items[2] and "due in" in items[2] and "sla-OVERDUE" not in items[2]
    # each task links to its page and offers the quick accept
    assert reverse("cases:detail", args=[fresh.number]) in items[2]
    assert reverse("cases:act", args=[fresh.number, "accept"]) + "?next=/m/" in items[2]


def test_home_lists_what_i_reported_with_its_state(client, loop):
    # given a case the worker reported and one a colleague reported
    lon, lat = point_in(loop.tree["g1"])
    mine = case_report(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                       description="我报的").case
    lon2, lat2 = point_in(loop.tree["g2"])
    theirs = case_report(actor=loop.worker2, channel=Channel.PATROL, matter="02001", lon=lon2, lat=lat2,
                         description="同事报的").case
    client.force_login(loop.worker)
    # when the worker opens the home page
    html = client.get(INDEX).content.decode()
    # then "Reported by me" lists their case with its state, and not the colleague's
    section = html.split('id="reported-title"')[1]
    assert mine.number in section and "Reported" in section
    assert theirs.number not in html


def test_home_of_someone_in_charge_of_no_cell(client, loop):
    client.force_login(loop.handler)
    response = client.get(INDEX)
    assert response.status_code == 200
    assert "You are not in charge of any cell" in response.content.decode()


def test_pages_need_a_login(client, loop):
    for url in (INDEX, REPORT, "/m/matters/?q=jg"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.post(POSITION, {"lon": 116, "lat": 40}).status_code == 302


# =========================================================================== report
def test_report_page_offers_my_cells_and_every_matter_without_javascript(client, loop):
    client.force_login(loop.worker)
    response = client.get(REPORT)
    assert response.status_code == 200
    html = response.content.decode()
    # a camera input for several photos, the fallback select of matters grouped by category, the combobox
    assert 'accept="image/*" capture="environment" multiple' in html
    assert '<optgroup label="01 Municipal utilities">' in html and '<option value="01001">01001 Manhole cover' in html
    assert 'role="combobox"' in html and 'aria-controls="matter-options"' in html
    # my cell is offered, and drawn on the map from its GeoJSON; the other grid is not
    g1, g2 = loop.tree["g1"], loop.tree["g2"]
    assert f'<option value="{g1.pk}">' in html and f'<option value="{g2.pk}">' not in html
    cells = json.loads(re.search(r'<script id="field-cells" type="application/json">(.*?)</script>', html,
                                 re.S).group(1))
    assert [c["id"] for c in cells] == [g1.pk] and cells[0]["geometry"]["type"] == "Polygon"


def test_report_with_photo_and_position_creates_a_patrol_case_in_my_cell(client, loop):
    # given the worker of grid 1 on the report page
    client.force_login(loop.worker)
    # when they send a photo, their position in grid 1, the matter and a description
    response = client.post(REPORT, report_data(loop))
    # then a patrol case is reported in grid 1 with the photo, and the confirmation shows its number
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("field:reported", args=[case.number])
    assert case.channel == Channel.PATROL and case.node == loop.tree["g1"] and case.reporter == loop.worker
    assert case.matter.code == "02001" and case.place == "幸福路口" and case.state == CaseState.REPORTED
    assert list(case.attachments.values_list("purpose", flat=True)) == [Attachment.Purpose.REPORT]
    page = client.get(response["Location"])
    assert page.status_code == 200 and case.number in page.content.decode()
    assert reverse("cases:detail", args=[case.number]) in page.content.decode()


def test_a_double_submit_reports_one_case(client, loop):
    client.force_login(loop.worker)
    first = client.post(REPORT, report_data(loop))
    second = client.post(REPORT, report_data(loop))
    assert Case.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_the_same_form_sent_again_with_other_content_is_not_a_second_report(client, loop):
    # given a report sent (the answer may have been lost on the way back)
    client.force_login(loop.worker)
    client.post(REPORT, report_data(loop))
    # when the same form is sent again with another description
    response = client.post(REPORT, report_data(loop, description="改了描述"))
    # then it is refused with a fresh form token, and the worker is told to look at what they reported
    assert response.status_code == 400 and Case.objects.count() == 1
    html = response.content.decode()
    assert "already sent" in html and 'name="token" value="t-1"' not in html
    assert "改了描述</textarea>" in html


def test_report_by_cell_without_position_and_with_the_matters_questions(client, loop):
    # given a manhole cover, whose matter asks what is wrong with it and needs a photo
    client.force_login(loop.worker)
    data = report_data(loop, matter="01001", lon="", lat="", accuracy="", node=str(loop.tree["g1"].pk),
                       attr_problem="missing")
    # when sent with the cell chosen instead of a position
    response = client.post(REPORT, data)
    # then the case is in that cell with the answer kept
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.node == loop.tree["g1"] and case.lon is None and case.attributes == {"problem": "missing"}


def test_a_matter_with_a_required_question_unanswered_shows_the_question(client, loop):
    client.force_login(loop.worker)
    response = client.post(REPORT, report_data(loop, matter="01001"))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'name="attr_problem"' in html and "required attributes missing: 问题类型" in html
    assert Case.objects.count() == 0


@pytest.mark.parametrize(("share", "state"), [(0, CaseState.CLOSED), (1, CaseState.REPORTED_BACK)])
def test_handled_on_the_spot_with_photos_before_and_after(client, loop, share, state):
    # given a policy closing every self-handled case at once (0) or sampling every one for verification (1)
    CasePolicy.objects.filter(scheme=loop.scheme).update(verification_sample_share=share)
    client.force_login(loop.worker)
    # when the worker reports a problem they handled on the spot, with photos before and after
    response = client.post(REPORT, report_data(loop, self_handled="1",
                                               after_photos=[photo("after.png", (0, 200, 0))]))
    # then the case is handled on the spot: closed, or waiting for the sampled verification
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.state == state and case.handling_mode == "SELF"
    purposes = sorted(case.attachments.values_list("purpose", flat=True))
    assert purposes == [Attachment.Purpose.AFTER, Attachment.Purpose.BEFORE]
    assert case.events.filter(kind="self_handle").exists()
    assert case.events.filter(kind="sampled").exists() is (share == 1)
    page = client.get(response["Location"]).content.decode()
    assert ("the case is closed" in page) is (share == 0)


def test_handled_on_the_spot_without_the_after_photo_is_refused_next_to_that_field(client, loop):
    client.force_login(loop.worker)
    response = client.post(REPORT, report_data(loop, self_handled="1"))
    assert response.status_code == 400
    html = response.content.decode()
    after = html.split('id="after-block"')[1].split("</div>")[0]
    assert "add a photo taken after you handled it" in after
    assert Case.objects.count() == 0


def test_errors_keep_what_was_typed_and_ask_for_the_photos_again(client, loop):
    # given a report without its matter
    client.force_login(loop.worker)
    data = report_data(loop, matter="", description="井盖缺了一块 <b>", place="幸福路12号")
    # when sent
    response = client.post(REPORT, data)
    # then nothing is reported, the error is next to the matter and what was typed is still there
    assert response.status_code == 400 and Case.objects.count() == 0
    html = response.content.decode()
    matter = html.split('id="matter-field"')[1].split('data-attributes')[0]
    assert "Choose the matter" in matter
    assert "井盖缺了一块 &lt;b&gt;</textarea>" in html and 'value="幸福路12号"' in html
    assert f'name="lon" value="{data["lon"]}"' in html and 'name="token" value="t-1"' in html
    # and, as a browser cannot refill a file input, the worker is told to choose the photo again
    assert "Choose the photos again" in html


def test_a_point_outside_every_cell_is_an_error_on_the_place(client, loop):
    client.force_login(loop.worker)
    response = client.post(REPORT, report_data(loop, lon="100.0", lat="30.0", description="很远的地方"))
    assert response.status_code == 400 and Case.objects.count() == 0
    html = response.content.decode()
    where = html.split('id="where"')[1].split("</fieldset>")[0]
    assert 'id="location-errors"' in where and "outside every cell" in where
    assert "很远的地方</textarea>" in html


def test_a_point_in_a_cell_not_mine_is_an_error_on_the_place(client, loop):
    client.force_login(loop.worker)
    response = client.post(REPORT, report_data(loop, cell=loop.tree["g2"]))
    assert response.status_code == 400 and Case.objects.count() == 0
    where = response.content.decode().split('id="where"')[1].split("</fieldset>")[0]
    assert "outside your territory" in where


def test_a_cell_not_mine_cannot_be_chosen(client, loop):
    client.force_login(loop.worker)
    response = client.post(REPORT, report_data(loop, lon="", lat="", node=str(loop.tree["g2"].pk)))
    assert response.status_code == 400 and Case.objects.count() == 0
    assert "Choose one of your cells" in response.content.decode()


def test_no_position_and_no_cell_asks_for_the_place(client, loop):
    client.force_login(loop.worker)
    response = client.post(REPORT, report_data(loop, lon="", lat=""))
    assert response.status_code == 400
    assert "Give the position" in response.content.decode().split('id="where"')[1]


@override_settings(CASE_PHOTO_MAX_BYTES=60)
def test_a_photo_too_big_is_an_error_on_the_photos(client, loop):
    client.force_login(loop.worker)
    big = SimpleUploadedFile("big.png", png(size=(64, 64)), content_type="image/png")
    response = client.post(REPORT, report_data(loop, photos=[big]))
    assert response.status_code == 400 and Case.objects.count() == 0
    errors = response.content.decode().split('id="photos-errors"')[1].split("</ul>")[0]
    assert "big.png" in errors and "at most 60 bytes" in errors


def test_a_file_that_is_not_an_image_is_an_error_on_the_photos(client, loop):
    client.force_login(loop.worker)
    fake = SimpleUploadedFile("photo.jpg", b"%PDF-1.4 not an image", content_type="image/jpeg")
    response = client.post(REPORT, report_data(loop, photos=[fake]))
    assert response.status_code == 400 and Case.objects.count() == 0
    errors = response.content.decode().split('id="photos-errors"')[1].split("</ul>")[0]
    assert "photo.jpg is not a readable image" in errors


def test_someone_in_charge_of_no_cell_cannot_report_here(client, loop):
    client.force_login(loop.handler)
    assert "Only people in charge of a cell" in client.get(REPORT).content.decode()
    assert client.post(REPORT, report_data(loop)).status_code == 403
    assert Case.objects.count() == 0


def test_the_confirmation_shows_similar_open_cases_nearby(client, loop):
    # given an open case of street vending reported a moment ago at the same corner
    lon, lat = point_in(loop.tree["g1"])
    earlier = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001", lon=lon, lat=lat,
                          description="市民来电：占道").case
    client.force_login(loop.worker)
    # when the worker reports the same there
    response = client.post(REPORT, report_data(loop, lon=f"{lon:.7f}", lat=f"{lat:.7f}"))
    # then the confirmation offers the earlier case as a similar one nearby
    page = client.get(response["Location"]).content.decode()
    similar = page.split('id="similar-title"')[1]
    assert earlier.number in similar and "0 m away" in similar


def test_the_confirmation_of_someone_elses_case_is_not_found(client, loop):
    lon, lat = point_in(loop.tree["g1"])
    theirs = case_report(actor=loop.leader, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                         description="社区书记报的").case
    client.force_login(loop.worker)
    assert client.get(reverse("field:reported", args=[theirs.number])).status_code == 404
    assert client.get(reverse("field:reported", args=["20200101-0000001"])).status_code == 404


# =========================================================================== matter search
def test_matter_search_by_pinyin_initials(client, loop):
    client.force_login(loop.worker)
    response = client.get("/m/matters/", {"q": "jg"})
    assert response.status_code == 200
    data = response.json()
    assert data[0]["code"] == "01001" and data[0]["name_zh"] == "井盖" and data[0]["name"] == "Manhole cover"
    assert data[0]["category"] == "Municipal utilities"
    assert data[0]["attributes"][0]["code"] == "problem" and data[0]["photo_required"] is True
    assert [m["code"] for m in client.get("/m/matters/", {"q": "井"}).json()] == ["01001"]
    assert client.get("/m/matters/", {"q": ""}).json() == []


# =========================================================================== position
def test_position_is_kept_at_most_once_a_minute(client, loop):
    client.force_login(loop.worker)
    # when the phone sends its position
    response = client.post(POSITION, {"lon": "116.0123456", "lat": "40.05", "accuracy": "12.6"})
    # then it is kept
    assert response.status_code == 204
    report = PositionReport.objects.get()
    assert (report.user, report.lon, report.lat, report.accuracy_m) == (loop.worker, 116.0123456, 40.05, 13)
    # and another within the minute is refused and not kept
    again = client.post(POSITION, json.dumps({"lon": 116.02, "lat": 40.06}), content_type="application/json")
    assert again.status_code == 429 and again["Retry-After"] == "60"
    assert PositionReport.objects.count() == 1
    # a minute later it is kept again
    PositionReport.objects.update(reported_at=timezone.now() - dt.timedelta(seconds=61))
    later = client.post(POSITION, json.dumps({"lon": 116.02, "lat": 40.06}), content_type="application/json")
    assert later.status_code == 204 and PositionReport.objects.count() == 2


@pytest.mark.parametrize(("data", "fields"), [
    ({"lon": "116", "lat": "95"}, {"lat"}),
    ({"lon": "abc", "lat": "40"}, {"lon"}),
    ({"lon": "nan", "lat": "inf"}, {"lon", "lat"}),
    ({"lat": "40"}, {"lon"}),
    ({"lon": "116", "lat": "40", "accuracy": "-3"}, {"accuracy"}),
])
def test_position_out_of_range_is_refused(client, loop, data, fields):
    client.force_login(loop.worker)
    response = client.post(POSITION, data)
    assert response.status_code == 400 and set(response.json()["errors"]) == fields
    assert PositionReport.objects.count() == 0


def test_position_only_from_field_roles_and_by_post(client, loop):
    client.force_login(loop.handler)
    assert client.post(POSITION, {"lon": "116", "lat": "40"}).status_code == 403
    client.force_login(loop.worker)
    assert client.get(POSITION).status_code == 405
    assert PositionReport.objects.count() == 0
