"""The public tracking page: what happened and when, to whoever holds the code; nothing personal."""

from __future__ import annotations

import importlib
import re

import pytest
from django.apps import apps
from django.core.cache import cache
from django.test import Client

from gridgov.cases.models import ActionGrant, Case, Channel
from gridgov.cases.services import case_evaluate, case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in

WATER = {"kind": "DEPARTMENT", "department": "water"}


@pytest.fixture
def loop(scheme, tree):
    cache.clear()
    # a transactional test before this one (same worker) flushed the rows the migrations seed
    if not ActionGrant.objects.filter(scheme__isnull=True).exists():
        importlib.import_module("gridgov.cases.migrations.0002_guards_and_grants").grants(apps, None)
    importlib.import_module("gridgov.cases.migrations.0004_public_rating_grant").grant(apps, None)
    return make_loop(scheme, tree)


def _steps(page: str) -> list[tuple[str, str]]:
    """(status, label) of each step of the progress list."""
    found = re.findall(r'class="track-step step-(\w+)".*?<span class="step-label">([^<]+)</span>', page, re.S)
    return [(status, label.strip()) for status, label in found]


def test_a_reporter_follows_the_case_without_seeing_anyone(loop):
    # given a resident's report that the centre registered and dispatched
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="10001", lon=lon, lat=lat,
                       description="楼上漏水，张三家", reporter_name="李四", reporter_phone="13812345678").case
    case = case_transition(case=case, actor=loop.office, action="register", note="内部备注：联系物业王经理")
    case_transition(case=case, actor=loop.office, action="dispatch", assignee={"kind": "COMMUNITY"})
    # when the code is looked up (typed in lower case in the form)
    response = Client().get("/cases/track/", {"code": case.tracking_code.lower()}, follow=True)
    # then the steps and the state are shown, and nothing personal, no description, no note
    assert response.status_code == 200
    page = response.content.decode()
    assert case.number in page and "Neighbour dispute" in page
    # (the page's own numbers, the case's and its code and the CSP nonce, may hold "138" by chance: the
    # phone's prefix is looked for in the rest)
    rest = re.sub(r'nonce="[^"]*"', "", page.replace(case.number, "").replace(case.tracking_code, ""))
    for secret in ("李四", "138", "张三", "王经理", loop.office.username, "楼上漏水"):
        assert secret not in rest
    assert _steps(page) == [("done", "Reported"), ("done", "Registered"), ("done", "Dispatched"),
                            ("current", "Handled"), ("todo", "Closed")]
    assert page.count("<time ") == 3 and response["Cache-Control"] == "no-store"
    assert 'aria-current="step"' in page and "rating-form" not in page  # not closed: nothing to rate


def test_unknown_codes_and_guessing_are_cut_off(loop, settings):
    settings.CASE_TRACK_LOOKUPS_PER_MINUTE = 3
    client = Client()
    statuses = [client.get(f"/cases/track/WRONG{i}/").status_code for i in range(5)]
    assert statuses == [404, 404, 404, 429, 429]
    assert client.get("/cases/track/").status_code == 200  # the form itself is always there


def _form(client, node):
    page = client.get(f"/cases/report/{node.scheme.key}/{node.code}/")
    assert page.status_code == 200
    return page.context["form"].initial["token"]


def test_a_resident_reports_from_the_qr_page_without_an_account(loop):
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile

    from gridgov.cases.models import Case
    from gridgov.cases.tests.factories import png

    client, node = Client(), loop.tree["g1"]
    token = _form(client, node)
    data = {"description": "路灯不亮", "place": "3号楼东侧", "phone": "13812345678", "token": token}
    # when the form is sent (twice: a double click)
    first = client.post(f"/cases/report/{node.scheme.key}/{node.code}/",
                        {**data, "photo": SimpleUploadedFile("p.png", png(), "image/png")})
    again = client.post(f"/cases/report/{node.scheme.key}/{node.code}/", {**data, "photo": BytesIO(png())})
    # then one case in the cell, from a resident, with the phone sealed, and the tracking code shown
    case = Case.objects.get()
    assert (case.channel, case.node, case.reporter, case.anonymous) == (Channel.RESIDENT, node, None, False)
    assert case.reporter_phone_masked == "138****5678" and "13812345678" not in case.reporter_phone_sealed
    assert first.status_code == 200 and case.tracking_code in first.content.decode()
    assert again.status_code == 200 and case.tracking_code in again.content.decode()


def test_a_bad_report_keeps_what_was_typed_and_says_what_to_fix(loop, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gridgov.cases.models import Case

    client, node = Client(), loop.tree["g1"]
    url = f"/cases/report/{node.scheme.key}/{node.code}/"
    token = _form(client, node)
    response = client.post(url, {"description": "井盖丢了", "token": token,
                                 "photo": SimpleUploadedFile("p.png", b"not an image", "image/png")})
    assert response.status_code == 400 and not Case.objects.exists()
    page = response.content.decode()
    assert "井盖丢了" in page and "not a readable image" in page
    response = client.post(url, {"description": "", "token": token})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    settings.CASE_PUBLIC_REPORTS_PER_HOUR = 2
    assert client.post(url, {"description": "x", "token": "t3"}).status_code == 429
    assert client.get(f"/cases/report/{node.scheme.key}/000/").status_code == 404


# --------------------------------------------------------------------------- the report form
def _url(node) -> str:
    return f"/cases/report/{node.scheme.key}/{node.code}/"


def test_the_report_form_shows_who_is_in_charge_and_is_made_for_a_phone(loop):
    # given the grid worker in charge of g1 (published on the cell's card)
    worker_person = loop.worker.person
    # when a resident opens the report form of g1
    page = Client().get(_url(loop.tree["g1"])).content.decode()
    # then the people in charge come first, the photo input opens the camera, the position button is there
    assert "Who is in charge here" in page and worker_person.name in page
    assert page.index(worker_person.name) < page.index('id="public-report"')
    assert re.search(r'<input[^>]*type="file"[^>]*accept="image/\*"', page)
    assert 'capture="environment"' in page and 'type="tel"' in page
    assert 'id="use-position"' in page and 'name="lon"' in page and 'name="lat"' in page
    for name in ("description", "place", "photo", "phone"):  # every field has a visible label
        assert f'<label for="id_{name}"' in page


def test_a_report_with_the_phones_position_inside_the_cell_keeps_the_point(loop):
    # given a position inside g1
    node = loop.tree["g1"]
    lon, lat = point_in(node)
    client = Client()
    token = _form(client, node)
    # when the resident sends the form with it
    response = client.post(_url(node), {"description": "垃圾满了", "lon": f"{lon:.6f}", "lat": f"{lat:.6f}",
                                        "token": token})
    # then the case is in g1 at that point
    assert response.status_code == 200
    case = Case.objects.get()
    assert case.node == node and (round(case.lon, 6), round(case.lat, 6)) == (round(lon, 6), round(lat, 6))


def test_a_position_outside_the_cell_is_refused_on_the_place_field_keeping_what_was_typed(loop):
    # given a position in g2 sent from g1's form
    node = loop.tree["g1"]
    lon, lat = point_in(loop.tree["g2"])
    client = Client()
    token = _form(client, node)
    # when the resident sends it
    response = client.post(_url(node), {"description": "路面塌陷", "place": "村口", "phone": "13912345678",
                                        "lon": f"{lon:.6f}", "lat": f"{lat:.6f}", "token": token})
    # then nothing is created; the place field says what to fix; the text stays, the refused point does not
    assert response.status_code == 400 and not Case.objects.exists()
    form = response.context["form"]
    assert "outside 一网格" in " ".join(form.errors["place"])
    page = response.content.decode()
    assert "路面塌陷" in page and 'value="村口"' in page and 'value="13912345678"' in page
    assert re.search(r'name="lon"[^>]*value="\d', page) is None
    # and sent again without the position, it goes in
    again = client.post(_url(node), {"description": "路面塌陷", "place": "村口", "phone": "13912345678",
                                     "lon": "", "lat": "", "token": token})
    assert again.status_code == 200 and Case.objects.get().lon is None


def test_a_half_position_is_refused_with_a_clear_message(loop):
    node = loop.tree["g1"]
    client = Client()
    token = _form(client, node)
    response = client.post(_url(node), {"description": "x", "lon": "116.01", "lat": "", "token": token})
    assert response.status_code == 400 and "incomplete" in " ".join(response.context["form"].errors["place"])


# --------------------------------------------------------------------------- progress and rating
def _resident_case(loop, phone="13812345678") -> Case:
    lon, lat = point_in(loop.tree["g1"])
    return case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01002", lon=lon, lat=lat,
                       description="水管爆了，王五家门口", reporter_phone=phone).case


def _closed(loop) -> Case:
    case = _resident_case(loop)
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER)
    case = case_transition(case=case, actor=loop.handler, action="accept")
    case = case_transition(case=case, actor=loop.handler, action="report_back")
    return case_transition(case=case, actor=loop.office, action="verify_pass")


def test_a_closed_case_shows_every_step_with_its_time_and_a_rating_form(loop):
    # given a closed case
    case = _closed(loop)
    # when its reporter opens the tracking page
    response = Client().get(f"/cases/track/{case.tracking_code}/")
    # then the five steps are done, each with a time, and the five answers are offered with text labels
    page = response.content.decode()
    assert [s for s, _label in _steps(page)] == ["done"] * 5 and page.count("<time ") == 5
    assert 'class="form rating-form"' in page
    for label in ("Very dissatisfied", "Dissatisfied", "Neither satisfied nor dissatisfied", "Satisfied",
                  "Very satisfied"):
        assert f'<span class="rating-text">{label}</span>' in page
    assert page.count('type="radio" name="satisfaction"') == 5
    for secret in ("王五", "13812345678", "138****5678", loop.handler.username, "水务抢修队"):
        assert secret not in page


def test_the_reporter_rates_a_closed_case_once(loop):
    # given a closed case
    case = _closed(loop)
    client, url = Client(), f"/cases/track/{case.tracking_code}/"
    # when the reporter gives it 4 with a comment
    response = client.post(url, {"satisfaction": "4", "comment": "修得很快，谢谢物业的赵师傅"}, follow=True)
    # then the case is evaluated as the system, the page thanks them and shows the rating but not the comment
    case.refresh_from_db()
    assert (case.state, case.satisfaction) == (CaseState.EVALUATED, 4)
    event = case.events.order_by("-seq").first()
    assert (event.kind, event.actor, event.actor_role) == ("evaluate", None, "SYSTEM")
    assert "赵师傅" in event.note and "tracking page" in event.note
    page = response.content.decode()
    assert response.status_code == 200 and "Thank you for your rating." in page and "4 of 5: Satisfied" in page
    assert "赵师傅" not in page and "rating-form" not in page
    # and a second rating is refused, changing nothing
    again = client.post(url, {"satisfaction": "1"})
    case.refresh_from_db()
    assert again.status_code == 409 and "a case is rated once, after it is closed" in again.content.decode()
    assert (case.state, case.satisfaction) == (CaseState.EVALUATED, 4)


def test_a_low_score_reopens_the_case_and_stays_the_only_rating(loop):
    # given a closed case
    case = _closed(loop)
    client, url = Client(), f"/cases/track/{case.tracking_code}/"
    # when the reporter gives it 1
    response = client.post(url, {"satisfaction": "1", "comment": "根本没修"}, follow=True)
    # then the case is reopened (the policy's threshold is 3) and the page says so
    case.refresh_from_db()
    assert (case.state, case.satisfaction, case.rework_count) == (CaseState.IN_PROGRESS, 1, 1)
    assert case.events.order_by("-seq").first().kind == "reopen"
    page = response.content.decode()
    assert "1 of 5: Very dissatisfied" in page and "reopened" in page
    assert _steps(page)[-2:] == [("current", "Handled"), ("todo", "Closed")]
    # and once handled and closed again, it is not offered for rating a second time
    case = case_transition(case=case, actor=loop.handler, action="report_back")
    case = case_transition(case=case, actor=loop.office, action="verify_pass")
    page = client.get(url).content.decode()
    assert "rating-form" not in page and client.post(url, {"satisfaction": "5"}).status_code == 409


def test_rating_needs_a_closed_case_a_score_and_is_rate_limited(loop, settings):
    # given an open case and two closed ones
    open_case = _resident_case(loop)
    first, second = _closed(loop), _closed(loop)
    client = Client()
    # a case not yet closed cannot be rated
    response = client.post(f"/cases/track/{open_case.tracking_code}/", {"satisfaction": "5"})
    assert response.status_code == 409 and "after it is closed" in response.content.decode()
    # no score chosen: what to fix (the page of a real code is not shown: see the test below)
    response = client.post(f"/cases/track/{first.tracking_code}/", {"comment": "还行"})
    assert response.status_code == 400 and "Choose one of the five answers" in response.content.decode()
    # past the limit per address, nothing more is taken
    settings.CASE_PUBLIC_RATINGS_PER_HOUR = 2  # two tries made above
    response = client.post(f"/cases/track/{second.tracking_code}/", {"satisfaction": "5"})
    assert response.status_code == 429 and response["Retry-After"] == "3600"
    second.refresh_from_db()
    assert second.state == CaseState.CLOSED and second.satisfaction is None
    assert client.post("/cases/track/NOSUCHCODE/", {"satisfaction": "5"}).status_code == 429


def _answer(response, code: str) -> tuple[int, str]:
    """Status and body, without what differs by request alone: the CSRF token and the page's own address
    (the language switch returns to it)."""
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    return response.status_code, body.replace(code, "CODE")


@pytest.mark.parametrize("form", [{"satisfaction": "5"}, {"comment": "还行"}])
def test_a_rating_post_answers_the_same_for_a_made_up_code_and_a_real_one(loop, form):
    # given a real case that cannot be rated (open), one already rated, and a made-up code
    open_case = _resident_case(loop)
    rated = _closed(loop)
    case_evaluate(case=rated, actor=None, satisfaction=4, reason="rated", expected_version=rated.version)
    made_up = "ZZZZ" + open_case.tracking_code[4:]
    # when each is posted a rating from separate addresses
    answers = [_answer(Client(REMOTE_ADDR=f"192.0.2.{n}").post(f"/cases/track/{code}/", form), code)
               for n, code in enumerate([open_case.tracking_code, rated.tracking_code, made_up], start=1)]
    # then status and body are the same: the POST tells nothing about which codes exist
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] in (400, 409)


def test_rating_posts_count_as_lookups_so_guessing_by_posting_is_cut_off_too(loop, settings):
    settings.CASE_TRACK_LOOKUPS_PER_MINUTE = 3
    client = Client()
    statuses = [client.post(f"/cases/track/WRONG{i}/", {"satisfaction": "5"}).status_code for i in range(5)]
    assert statuses == [409, 409, 409, 429, 429]
    assert client.get("/cases/track/WRONG9/").status_code == 429


def test_a_rejected_case_ends_its_progress_with_the_outcome(loop):
    case = _resident_case(loop)
    case_transition(case=case, actor=loop.office, action="reject", reason="不属于受理范围：私人纠纷")
    page = Client().get(f"/cases/track/{case.tracking_code}/").content.decode()
    assert _steps(page) == [("done", "Reported"), ("ended", "Not taken up as a case")]
    assert "私人纠纷" not in page


def test_a_self_handled_case_shows_the_steps_it_skipped_as_passed(loop):
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                       description="占道", self_handled=True, before_photos=[png()],
                       after_photos=[png((0, 200, 0))]).case
    page = Client().get(f"/cases/track/{case.tracking_code}/").content.decode()
    statuses = [s for s, _label in _steps(page)]
    assert statuses[:4] == ["done"] * 4 and statuses[4] in ("done", "current")
