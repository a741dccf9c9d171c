"""The public tracking page: what happened and when, to whoever holds the code; nothing personal."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from gridgov.cases.models import Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, point_in


@pytest.fixture
def loop(scheme, tree):
    cache.clear()
    return make_loop(scheme, tree)


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
    for secret in ("李四", "138", "张三", "王经理", loop.office.username, "楼上漏水"):
        assert secret not in page
    assert page.count("<li><time") == 3 and response["Cache-Control"] == "no-store"


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
