"""The reporter's protection in a timeline is one rule (`grants.event_view`): the case page and the API hide
the same events' actors and standings, and the same values."""

from __future__ import annotations

import pytest
from django.test import Client

from gridgov.accounts.tests.factories import api_client_for
from gridgov.cases.models import Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, png, point_in


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _timelines(user, case) -> tuple[list, list]:
    client = Client()
    client.force_login(user)
    page = client.get(f"/cases/{case.number}/").context["timeline"]
    api = api_client_for(user).get(f"/api/cases/{case.pk}/timeline/").json()
    return page, api


@pytest.mark.parametrize("viewer", ["handler", "centre"])
def test_the_page_and_the_api_hide_the_same_in_a_timeline(loop, viewer):
    # given a hotline call taken, registered and dispatched by the street office (its reporter and owner)
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="01001", lon=lon, lat=lat,
                       description="井盖丢了", reporter_phone="13812345678", photos=[png()],
                       attributes={"problem": "missing"}).case
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch",
                           assignee={"kind": "DEPARTMENT", "department": "water"})
    # when the water team's handler (who may not see who reported) and the centre (who may) read it
    page, api = _timelines(getattr(loop, viewer), case)
    # then both show the same events, and hide the actor and the standing of the same ones
    assert [t["event"].seq for t in page] == [e["seq"] for e in api]
    page_hidden = [not t["actor"] and not t["standing"] for t in page]
    api_hidden = [e["actor"] is None and e["actor_role"] is None for e in api]
    assert page_hidden == api_hidden
    if viewer == "handler":
        assert page_hidden == [True, True, True]  # every event is the reporter's (the office)
        assert all("owner_id" not in e["new_values"] for e in api)
    else:
        assert page_hidden == [False, False, False]
        assert api[0]["new_values"]["owner_id"] == loop.office.pk
