"""What the case pages and the API show people (issue 12, items 6 and 11): staff by their names, a department's
default team as the department, a limit in its natural unit, a closed case as closed on time or late."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from gridgov.accounts.models import Team
from gridgov.accounts.tests.factories import api_client_for
from gridgov.cases.due import case_due_shown
from gridgov.cases.models import Case, CaseStage, Channel, SlaStatus
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, point_in

WATER = {"kind": "DEPARTMENT", "department": "water"}


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _hotline(loop, matter="01002", at=None) -> Case:
    lon, lat = point_in(loop.tree["g1"])
    return case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter=matter, lon=lon,
                       lat=lat, description="水管爆了", at=at).case


def _closed(loop, *, late: bool) -> Case:
    # late: dispatched ten hours ago, so the first stage (3 clock hours to fence off) ran out before the report
    at = timezone.now() - dt.timedelta(hours=10) if late else None
    case = _hotline(loop, at=at)
    case = case_transition(case=case, actor=loop.office, action="register", at=at)
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER, at=at)
    case = case_transition(case=case, actor=loop.handler, action="accept", at=at)
    case = case_transition(case=case, actor=loop.handler, action="report_back")
    return case_transition(case=case, actor=loop.office, action="verify_pass")


def _page(user, url: str, language: str = "zh-hans") -> str:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_timeline_names_staff_by_their_names_on_the_page_and_in_the_api(loop):
    # given a case registered by the street office, whose login belongs to a person in charge
    case = case_transition(case=_hotline(loop), actor=loop.office, action="register")
    name = loop.office.person.name
    # when the centre reads its page and its API timeline
    html = _page(loop.centre, f"/cases/{case.number}/")
    timeline = api_client_for(loop.centre).get(f"/api/cases/{case.pk}/timeline/").json()
    # then the person's name is shown, not the login; the API keeps the login beside it
    register = re.search(r'<li data-kind="register">(.*?)</li>', html, re.S).group(1)
    assert name in register and loop.office.username not in register
    row = next(e for e in timeline if e["kind"] == "register")
    assert row["actor_name"] == name and row["actor"] == loop.office.username


def test_a_default_team_is_shown_as_its_department(loop):
    # given a case dispatched to a department whose only team is its default team
    water = loop.water
    water.name_en = "District water bureau"
    water.save()
    Team.objects.filter(department=water).update(name=Team.DEFAULT_NAME)
    case = case_transition(case=case_transition(case=_hotline(loop), actor=loop.office, action="register"),
                           actor=loop.office, action="dispatch", assignee=WATER)
    # when the centre reads the list and the case page in Chinese and in English
    zh = _page(loop.centre, f"/cases/{case.number}/") + _page(loop.centre, "/cases/")
    en = _page(loop.centre, f"/cases/{case.number}/", "en") + _page(loop.centre, "/cases/", "en")
    # then the department stands for its default team, in the page's language
    assert Team.DEFAULT_NAME not in zh and "区水务局" in zh
    assert Team.DEFAULT_NAME not in en and "District water bureau" in en


def test_a_limit_of_a_quarter_hour_is_shown_as_15_minutes(loop):
    # given a case whose first stage has 0.25 clock hours
    case = _hotline(loop)
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER)
    CaseStage.objects.filter(case=case, order=1).update(amount="0.25")
    # when the centre opens it in Chinese
    html = _page(loop.centre, f"/cases/{case.number}/")
    # then the limits are in their natural units
    stages = re.search(r'<table class="data case-stages">(.*?)</table>', html, re.S).group(1)
    limits = re.findall(r"<tr><td>\d\. [^<]*</td>\s*<td>([^<]*)</td>", stages)
    assert limits[0] == "15 分钟" and re.fullmatch(r"\d+ 小时", limits[1]) and limits[2].endswith(" 个工作日")
    assert "0.25" not in stages and "自然小时" not in stages


@pytest.mark.parametrize("late", [False, True])
def test_a_closed_case_shows_when_it_closed_and_whether_on_time(loop, late):
    # given a case closed on time, or with a stage completed after its limit
    case = _closed(loop, late=late)
    # when the centre reads the list and the case page
    listing = _page(loop.centre, "/cases/")
    html = _page(loop.centre, f"/cases/{case.number}/")
    # then both say closed on time / late, with the time it closed, and never "not timed"
    expected = "逾期结案" if late else "按时结案"
    head = re.search(r'<header class="case-head">(.*?)</header>', html, re.S).group(1)
    closed = timezone.localtime(case.closed_at).strftime("%m-%d %H:%M")
    assert expected in head and closed in head
    row = re.search(rf'<tr[^>]*>(?:(?!</tr>).)*{case.number}(?:(?!</tr>).)*</tr>', listing, re.S).group(0)
    assert expected in row
    assert "未计时" not in head and "未计时" not in row
    shown = case_due_shown(Case.objects.get(pk=case.pk), timezone.now())
    assert shown.colour == (SlaStatus.OVERDUE if late else SlaStatus.ON_TIME)
