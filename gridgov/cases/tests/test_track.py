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
