"""The department inbox: only what concerns my teams, in tabs with counts, soonest deadline first, exported
exactly as shown, refreshed in place; never the reporter."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.test import Client
from django.utils import timezone

from gridgov.accounts import services as account_services
from gridgov.cases.models import Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, point_in

WATER = {"kind": "DEPARTMENT", "department": "water"}
POLICE = {"kind": "DEPARTMENT", "department": "police"}


def _report(loop, matter="01002", description="水管爆了"):
    lon, lat = point_in(loop.tree["g1"])
    return case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter=matter, lon=lon, lat=lat,
                       description=description, reporter_name="李四", reporter_phone="13812345678").case


def _dispatched(loop, assignee=WATER, at=None):
    case = case_transition(case=_report(loop), actor=loop.office, action="register", at=at)
    return case_transition(case=case, actor=loop.office, action="dispatch", assignee=assignee, at=at)


@pytest.fixture
def inbox(scheme, tree):
    """The water team's handler with: one case to accept (overdue), one in hand, one in hand with an
    extension asked, a community case whose whistle calls water to report in, and a police case."""
    loop = make_loop(scheme, tree)
    now = timezone.now()
    to_accept = _dispatched(loop, at=now - dt.timedelta(hours=5))  # its first stage (3 h) is overdue
    in_hand = case_transition(case=_dispatched(loop), actor=loop.handler, action="accept")
    waiting = case_transition(case=_dispatched(loop), actor=loop.handler, action="accept")
    waiting = case_transition(case=waiting, actor=loop.handler, action="request_extension", amount=4,
                              unit="CLOCK_HOURS", reason="需要停水作业")
    community = case_transition(case=_report(loop, matter="10001", description="邻居吵架"), actor=loop.office,
                                action="register")
    community = case_transition(case=community, actor=loop.office, action="dispatch", assignee={"kind": "COMMUNITY"})
    whistle = case_transition(case=community, actor=loop.leader, action="whistle", reason="漏水引起纠纷",
                              departments=["water"])
    police = _dispatched(loop, assignee=POLICE)
    client = Client()
    client.force_login(loop.handler)
    return loop, client, {"to_accept": to_accept, "in_hand": in_hand, "waiting": waiting, "whistle": whistle,
                          "police": police}


def _numbers(response) -> list[str]:
    return [r["number"] for r in response.context["rows"]]


def test_the_inbox_holds_only_my_teams_cases_in_tabs_with_counts(inbox):
    _loop, client, cases = inbox
    # when the handler opens the inbox
    response = client.get("/inbox/")
    # then the first tab lists what waits to be accepted, and every tab shows its count
    assert response.status_code == 200
    assert _numbers(response) == [cases["to_accept"].number]
    assert {t["key"]: t["count"] for t in response.context["tabs"]} == {
        "accept": 1, "hand": 2, "waiting": 1, "report_in": 1, "all": 4}
    page = response.content.decode()
    assert 'data-tab="accept" aria-current="page"' in page
    # and the police's case is nowhere
    everything = client.get("/inbox/", {"tab": "all"})
    assert cases["police"].number not in everything.content.decode()
    assert set(_numbers(everything)) == {cases[k].number for k in ("to_accept", "in_hand", "waiting", "whistle")}


def test_each_tab_lists_its_cases_soonest_deadline_first(inbox):
    _loop, client, cases = inbox
    assert set(_numbers(client.get("/inbox/", {"tab": "hand"}))) == {cases["in_hand"].number,
                                                                     cases["waiting"].number}
    waiting = client.get("/inbox/", {"tab": "waiting"})
    assert _numbers(waiting) == [cases["waiting"].number]
    assert "extension requested" in waiting.content.decode()
    # all open: the overdue case first, then by deadline
    rows = client.get("/inbox/", {"tab": "all"}).context["rows"]
    dues = [r["due_at"] for r in rows]
    assert rows[0]["number"] == cases["to_accept"].number
    assert dues == sorted(dues)


def test_the_deadline_says_how_long_is_left_or_how_late_it_is(inbox):
    _loop, client, _cases = inbox
    row = client.get("/inbox/").context["rows"][0]
    assert row["sla"] == "OVERDUE" and re.match(r"overdue by \d+\xa0hours?$", row["sla_words"])
    in_hand = client.get("/inbox/", {"tab": "hand"}).content.decode()
    assert re.search(r'class="sla sla-(ON_TIME|WARNING)">due in \d', in_hand)


def test_rows_link_to_the_case_and_to_the_forms_of_my_actions_coming_back_here(inbox):
    _loop, client, cases = inbox
    page = client.get("/inbox/").content.decode()
    number = cases["to_accept"].number
    assert f'href="/cases/{number}/"' in page
    for action in ("accept", "return", "request_extension"):
        assert f'href="/cases/{number}/act/{action}/?next=%2Finbox%2F%3Ftab%3Daccept"' in page
    assert f"/cases/{number}/act/report_back/" not in page  # not accepted yet
    # an extension already asked for is not offered again
    waiting = client.get("/inbox/", {"tab": "waiting"}).content.decode()
    assert "/act/request_extension/" not in waiting and "/act/report_back/" in waiting


def test_the_report_in_tab_lists_whistles_calling_my_department(inbox):
    loop, client, cases = inbox
    response = client.get("/inbox/", {"tab": "report_in"})
    assert _numbers(response) == [cases["whistle"].number]
    row = response.context["rows"][0]
    escalation = cases["whistle"].escalations.get()
    assert row["due_at"] == escalation.report_in_due_at and row["received_at"] == escalation.raised_at
    assert row["team"] == "report in: 区水务局"
    assert [b["action"] for b in row["actions"]] == ["report_in"]
    # once reported in, it leaves the tab
    case_transition(case=cases["whistle"], actor=loop.handler, action="report_in")
    response = client.get("/inbox/", {"tab": "report_in"})
    assert _numbers(response) == [] and "No whistle is calling your department" in response.content.decode()


def test_the_reporter_is_never_shown(inbox):
    _loop, client, _cases = inbox
    for tab in ("accept", "hand", "waiting", "report_in", "all"):
        page = client.get("/inbox/", {"tab": tab}).content.decode()
        export = b"".join(client.get("/inbox/", {"tab": tab, "format": "csv"}).streaming_content).decode("utf-8-sig")
        for secret in ("李四", "13812345678", "138****5678", "水管爆了", "邻居吵架"):
            assert secret not in page and secret not in export


def test_the_export_holds_exactly_the_rows_shown(inbox):
    _loop, client, _cases = inbox
    for tab in ("all", "hand", "report_in"):
        # given the rows on screen
        shown = client.get("/inbox/", {"tab": tab}).context["rows"]
        # when the same list is exported
        response = client.get("/inbox/", {"tab": tab, "format": "csv"})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
        # then one line per row, in the same order, with what the row shows
        assert [line[0] for line in lines[1:]] == [r["number"] for r in shown]
        for line, row in zip(lines[1:], shown, strict=True):
            assert line[1:3] == [row["matter"], row["cell"]] and line[5] == row["sla_words"]
            assert line[6] == str(row["state"]) and line[8] == row["team"]
    xlsx = client.get("/inbox/", {"tab": "all", "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def test_the_list_refreshes_in_place_keeping_the_tab(inbox):
    _loop, client, _cases = inbox
    # the page polls its own address
    page = client.get("/inbox/", {"tab": "hand"}).content.decode()
    assert 'hx-get="/inbox/?tab=hand"' in page and "every 30s" in page and "htmx.min.js" in page
    # and that address, asked by htmx, gives the list alone, still on the same tab
    response = client.get("/inbox/", {"tab": "hand"}, headers={"HX-Request": "true"})
    fragment = response.content.decode()
    assert response.status_code == 200 and "<html" not in fragment and fragment.lstrip().startswith('<div id="inbox-list"')
    assert 'data-tab="hand" aria-current="page"' in fragment and 'hx-get="/inbox/?tab=hand"' in fragment
    assert "HX-Request" in response["Vary"]


def test_a_handler_in_several_teams_filters_by_team(inbox):
    loop, client, cases = inbox
    # given the handler is also in the police team
    loop.police_team.members.add(loop.handler)
    everything = client.get("/inbox/", {"tab": "all"})
    assert cases["police"].number in _numbers(everything)
    assert '<select name="team"' in everything.content.decode()
    # when they choose the police team
    response = client.get("/inbox/", {"tab": "all", "team": loop.police_team.pk})
    # then only its cases, and the tabs and polling keep the choice
    assert _numbers(response) == [cases["police"].number]
    assert f'hx-get="/inbox/?tab=all&amp;team={loop.police_team.pk}"' in response.content.decode()
    # a team that is not theirs is refused with what to fix
    response = client.get("/inbox/", {"tab": "all", "team": loop.water_team.pk + 999})
    assert response.status_code == 400 and "Choose one of your teams." in response.content.decode()


def test_without_a_team_the_inbox_explains_why_it_is_empty(inbox):
    _loop, _client, _cases = inbox
    loner = account_services.staff_user_create(username="loner", password="Grid-demo-2026!")
    client = Client()
    client.force_login(loner)
    response = client.get("/inbox/")
    assert response.status_code == 200 and "not a member of a department team" in response.content.decode()
    assert "rows" not in response.context


def test_the_inbox_needs_a_login_and_a_stale_poll_goes_to_it():
    client = Client()
    assert client.get("/inbox/").status_code == 302
    response = client.get("/inbox/?tab=hand", headers={"HX-Request": "true"})
    assert response.status_code == 204 and response["HX-Redirect"].startswith("/login/?next=")
