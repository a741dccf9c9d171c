"""Statement budgets of the main pages (issue 13, item 7): each page runs an exact number of SQL
statements, and the same number whatever the number of cases, events and photos it shows. A change that
adds a query per row, per case or per event fails here; a change that adds one query to a page shows
up as a changed budget in review. Counts are deterministic; times are never asserted."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gridgov.cases.models import Case, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, png, point_in

# on a database reached without a surrounding transaction, as a request is: the per-process caches of
# settings keep what they read only outside one (core.versioned), and the first request warms them
pytestmark = pytest.mark.django_db(transaction=True)

WATER = {"kind": "DEPARTMENT", "department": "water"}


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _report(loop, i: int, *, cell: str, matter: str = "02001") -> Case:
    lon, lat = point_in(loop.tree[cell])
    return case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter=matter, lon=lon,
                       lat=lat, description=f"占道经营 {i}", reporter_name="张三丰", reporter_phone="13812345678",
                       photos=[png()], attributes={"problem": "missing"} if matter == "01001" else None).case


def _more_cases(loop, n: int) -> list[Case]:
    """`n` cases in both grids, in every stage the pages show: reported, registered, with the grid worker,
    with the water team, reported back."""
    cases = []
    for i in range(n):
        cell = "g1" if i % 2 else "g2"
        step = i % 5
        case = _report(loop, i, cell=cell, matter="01001" if step >= 3 else "02001")
        if step >= 1:
            case = case_transition(case=case, actor=loop.office, action="register")
        if step == 2:
            case = case_transition(case=case, actor=loop.office, action="dispatch",
                                   assignee={"kind": "GRID_WORKER"})
        if step >= 3:
            case = case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER)
            case = case_transition(case=case, actor=loop.handler, action="accept")
        if step == 4:
            case = case_transition(case=case, actor=loop.handler, action="report_back", note="修好了",
                                   after_photos=[png((10, 120, 30))])
        cases.append(case)
    return cases


def _statements(client, url: str, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


# (name, who, url) → the page's budget (the caller's territory kept by the process since the warming request:
# accounts.selectors.user_scope_paths). `who` names the Loop's user; a URL with {number} is the case page
# of the dispatched-and-accepted case the test keeps adding events to.
PAGES = {
    "case list (centre)": ("centre", "/cases/", 12),
    "case list (grid worker)": ("worker", "/cases/", 12),
    "queue (office)": ("office", "/cases/queue/", 6),
    "case page (office)": ("office", "/cases/{number}/", 15),
    "case page (handler)": ("handler", "/cases/{number}/", 17),
    "phone home (grid worker)": ("worker", "/m/", 16),
    "inbox (handler)": ("handler", "/inbox/", 12),
    "cases API list (centre)": ("centre", "/api/cases/", 5),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_a_page_runs_its_budget_of_statements_whatever_the_number_of_cases(client, loop, page):
    who, url, budget = PAGES[page]
    # given cases in every stage in both grids, and one with the water team that the case page shows,
    # with a note already taken under a role (the timeline names the role and level once, for all events)
    _more_cases(loop, 10)
    case = _report(loop, 99, cell="g1", matter="01001")
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER)
    case = case_transition(case=case, actor=loop.handler, action="accept")
    case = case_transition(case=case, actor=loop.office, action="comment", note="请尽快处理")
    url = url.format(number=case.number)
    client.force_login(getattr(loop, who))
    client.get(url)  # the first request of a process warms its caches (calendar, territory index)
    before = _statements(client, url)
    # when ten more cases come in and the case on the page gets more notes
    _more_cases(loop, 10)
    for i in range(3):
        case = case_transition(case=Case.objects.get(pk=case.pk), actor=loop.office, action="comment",
                               note=f"催办 {i}")
    after = _statements(client, url)
    # then the page runs exactly its budget, before and after
    assert (before, after) == (budget, budget), page
