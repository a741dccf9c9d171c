"""The command centre and the dashboard through the test client: pages render for each user's territory,
the JSON endpoints are scoped and hold the right counts, cells drill down, exports hold exactly the rows
shown, and anything outside the user's territory is a 404."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from gridgov.accounts.models import PositionReport
from gridgov.cases.models import Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.cases.watch import sla_watch
from gridgov.territory.tests.factories import make_scheme, make_tree

pytestmark = pytest.mark.django_db

WEEK = {"from": "2026-11-23", "to": "2026-11-29"}


class _Tables(HTMLParser):
    """The text of every <table id=...> of a page, row by row (cells stripped)."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables_of(response) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(response.content.decode())
    return parser.tables


def get_json(client, name, **params):
    response = client.get(reverse(name), params)
    assert response.status_code == 200, response.content[:300]
    return response.json()


# ---------------------------------------------------------------------------------------------- centre
def test_centre_opens_on_the_top_of_the_users_territory(client, loop, tree):
    # given the street office
    client.force_login(loop.office)
    # when it opens the centre without a cell
    response = client.get(reverse("centre:index"))
    # then it looks at its street, with its communities below and the queue polled for the same place
    assert response.status_code == 200
    assert response.context["place"].cell == tree["street"]
    assert [n.pk for n in response.context["place"].children] == [tree["community"].pk]
    html = response.content.decode()
    queue = f'hx-get="{reverse("cases:queue")}?cell={tree["street"].pk}"'
    assert queue in html and 'hx-trigger="load, every 15s"' in html
    assert f'data-cells-url="{reverse("centre:cells")}?cell={tree["street"].pk}"' in html
    # the district above is outside its territory: no link up
    assert f"?cell={tree['district'].pk}" not in html


def test_centre_district_wide_user_starts_at_the_district(client, loop, tree):
    client.force_login(loop.centre)
    response = client.get(reverse("centre:index"))
    assert response.status_code == 200
    assert response.context["place"].cell == tree["district"]
    assert "scheme" not in response.context["form"].fields  # one scheme: no scheme select


def test_centre_offers_a_scheme_select_when_the_user_sees_several(client, loop, tree):
    # given a second deployment's tree
    other = make_scheme()
    other_tree = make_tree(other, origin=(117.0, 40.0))
    # a district-wide login sees its own deployment only: nothing to choose
    client.force_login(loop.centre)
    assert "scheme" not in client.get(reverse("centre:index")).context["form"].fields
    # when a login with the platform role opens the centre, then asks for the other scheme
    platform = type(loop.centre).objects.create_user("platform", password="Grid-demo-2026!", is_staff=True,
                                                     platform_wide=True)
    client.force_login(platform)
    first = client.get(reverse("centre:index"))
    second = client.get(reverse("centre:index"), {"scheme": other.key})
    switched = client.get(reverse("centre:index"), {"scheme": other.key, "cell": tree["g1"].pk})
    # then both schemes are offered and the other scheme opens at its district
    keys = [key for key, _label in first.context["form"].fields["scheme"].widget.choices]
    assert set(keys) == {loop.scheme.key, other.key}
    assert second.context["place"].cell == other_tree["district"]
    assert switched.context["place"].cell == other_tree["district"]


def test_centre_headline_and_cell_counts(client, loop, week, tree):
    # given the week: open now are D (dispatched, past due), H (reported) in g2; I (reported), K (registered)
    # in g1; J (reported) on the community itself
    client.force_login(loop.leader)
    # when
    response = client.get(reverse("centre:index"), {"cell": tree["community"].pk})
    # then
    assert response.context["headline"] == {"open": 5, "warning": 0, "overdue": 1, "today": 0}
    assert tables_of(response)["centre-cells-table"] == [["Cell", "Open", "Close to the limit", "Overdue"],
                                                         ["一网格", "2", "0", "0"], ["二网格", "2", "0", "1"]]


def test_cells_geojson_counts_open_yellow_and_overdue(client, loop, week, tree):
    # given a fresh case dispatched in g1 and watched past its yellow mark (but not its limit)
    lon, lat = point_in(tree["g1"])
    fresh = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001", lon=lon, lat=lat,
                        description="占道").case
    fresh = case_transition(case=fresh, actor=loop.office, action="register")
    fresh = case_transition(case=fresh, actor=loop.office, action="dispatch")
    stage = fresh.stages.get()
    sla_watch(now=stage.warn_at + dt.timedelta(minutes=1))
    client.force_login(loop.leader)
    # when
    data = get_json(client, "centre:cells", cell=tree["community"].pk)
    # then each grid is a feature with its counts and a drill-down link keeping the filters
    props = {f["properties"]["id"]: f["properties"] for f in data["features"]}
    assert set(props) == {tree["g1"].pk, tree["g2"].pk}
    assert (props[tree["g1"].pk]["open"], props[tree["g1"].pk]["warning"], props[tree["g1"].pk]["overdue"]) == (3, 1, 0)
    assert (props[tree["g2"].pk]["open"], props[tree["g2"].pk]["warning"], props[tree["g2"].pk]["overdue"]) == (2, 0, 1)
    assert props[tree["g1"].pk]["url"] == f"{reverse('centre:index')}?cell={tree['g1'].pk}"
    assert data["features"][0]["geometry"]["type"] == "Polygon"
    assert data["totals"] == {"open": 6, "warning": 1, "overdue": 1, "today": 1}


def test_cells_geojson_applies_the_filters(client, loop, week, tree):
    client.force_login(loop.leader)
    # when only resident reports are asked for, then only reported ones
    residents = get_json(client, "centre:cells", cell=tree["community"].pk, channel=Channel.RESIDENT)
    reported = get_json(client, "centre:cells", cell=tree["community"].pk, state="REPORTED")
    water = get_json(client, "centre:cells", cell=tree["community"].pk, category="01")
    late = get_json(client, "centre:cells", cell=tree["community"].pk, **{"from": "2026-11-30"})
    # then: H (g2) and I (g1) are resident reports; reported: H, I (and J on the community);
    # category 01: D; reported from the 30th: I
    def opens(data):
        return {f["properties"]["id"]: f["properties"]["open"] for f in data["features"]}
    assert opens(residents) == {tree["g1"].pk: 1, tree["g2"].pk: 1}
    assert opens(reported) == {tree["g1"].pk: 1, tree["g2"].pk: 1}
    assert reported["totals"]["open"] == 3
    assert opens(water) == {tree["g1"].pk: 0, tree["g2"].pk: 1}
    assert opens(late) == {tree["g1"].pk: 1, tree["g2"].pk: 0}
    # and a cell's drill-down link keeps the filters
    assert all("channel=RESIDENT" in f["properties"]["url"] for f in residents["features"])
    assert all("category=01" in f["properties"]["url"] for f in water["features"])


def test_case_markers_are_open_cases_with_a_point_and_no_personal_data(client, loop, week, tree):
    # given a resident report with a phone number in g1
    lon, lat = point_in(tree["g1"])
    new = case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001", lon=lon, lat=lat,
                      description="门口占道", reporter_phone="13812345678", reporter_name="王五").case
    client.force_login(loop.leader)
    # when
    data = get_json(client, "centre:cases", cell=tree["community"].pk)
    # then the open cases with a point (D H I K and the new one; J has no point) are markers linking to the case
    numbers = {f["properties"]["number"] for f in data["features"]}
    assert numbers == {week[k].number for k in "DHIK"} | {new.number}
    assert data["truncated"] is False
    d = next(f for f in data["features"] if f["properties"]["number"] == week["D"].number)
    assert d["properties"]["url"] == reverse("cases:detail", kwargs={"number": week["D"].number})
    assert d["properties"]["sla"] == "OVERDUE"  # past due while dispatched, though the watch never ran
    assert d["properties"]["matter"] == "Burst water pipe"
    body = json.dumps(data, ensure_ascii=False)
    assert "13812345678" not in body and "王五" not in body and "门口占道" not in body and "1381" not in body


def test_case_markers_follow_the_state_filter(client, loop, week, tree):
    client.force_login(loop.leader)
    data = get_json(client, "centre:cases", cell=tree["community"].pk, state="REGISTERED")
    assert [f["properties"]["number"] for f in data["features"]] == [week["K"].number]


def test_worker_positions_latest_recent_per_assigned_user(client, loop, tree, settings):
    # given grid worker 1 reported twice recently, grid worker 2 three hours ago, the water handler just now
    now = timezone.now()
    PositionReport.objects.create(user=loop.worker, lon=116.01, lat=40.01, reported_at=now - dt.timedelta(minutes=30))
    PositionReport.objects.create(user=loop.worker, lon=116.02, lat=40.02, accuracy_m=8,
                                  reported_at=now - dt.timedelta(minutes=5))
    PositionReport.objects.create(user=loop.worker2, lon=116.07, lat=40.05, reported_at=now - dt.timedelta(hours=3))
    PositionReport.objects.create(user=loop.handler, lon=116.03, lat=40.03, reported_at=now)
    client.force_login(loop.office)
    # when the street's centre asks (default: positions of the last 120 minutes)
    data = get_json(client, "centre:workers", cell=tree["street"].pk)
    settings.CENTRE_POSITION_MAX_AGE_MINUTES = 240
    longer = get_json(client, "centre:workers", cell=tree["street"].pk)
    only_g2 = get_json(client, "centre:workers", cell=tree["g2"].pk)
    # then worker 1 at their latest point with their role; the handler (assigned nowhere) never
    [feature] = data["features"]
    assert feature["geometry"]["coordinates"] == [116.02, 40.02]
    props = feature["properties"]
    assert props["username"] == loop.worker.username and props["roles"] == ["网格员"]
    assert props["cells"] == ["一网格"] and props["accuracy_m"] == 8
    assert "phone" not in json.dumps(data)
    assert {f["properties"]["username"] for f in longer["features"]} == {loop.worker.username,
                                                                        loop.worker2.username}
    assert {f["properties"]["username"] for f in only_g2["features"]} == {loop.worker2.username}


@pytest.mark.parametrize("name", ["centre:index", "centre:cells", "centre:cases", "centre:workers", "dashboard:index"])
def test_a_cell_outside_the_territory_is_not_found(client, loop, tree, name):
    # given grid worker 2, who sees g2 only
    client.force_login(loop.worker2)
    # when they ask for g1, the community, a cell that does not exist or a cell id that is not a number
    # then each is a 404, never a 403
    for cell in (tree["g1"].pk, tree["community"].pk, 999999, "abc"):
        assert client.get(reverse(name), {"cell": cell}).status_code == 404
    assert client.get(reverse(name), {"cell": tree["g2"].pk}).status_code == 200


def test_endpoints_are_scoped_to_what_the_user_sees(client, loop, week, tree):
    # given grid worker 2 (g2)
    client.force_login(loop.worker2)
    # when
    cases = get_json(client, "centre:cases")
    page = client.get(reverse("centre:index"))
    # then only g2's open cases with a point: D and H
    assert {f["properties"]["number"] for f in cases["features"]} == {week["D"].number, week["H"].number}
    assert page.context["place"].cell == tree["g2"]
    assert page.context["headline"]["open"] == 2


def test_login_is_required(client):
    for name in ("centre:index", "centre:cells", "dashboard:index"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and reverse("login") in response["Location"]


def test_a_user_without_territory_is_told_so(client, loop):
    # given the water department's handler (a team member, assigned to no cell)
    client.force_login(loop.handler)
    # when / then
    for name in ("centre:index", "dashboard:index"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert "No territory is assigned to you" in response.content.decode()
    assert client.get(reverse("centre:cells")).status_code == 404


def test_invalid_filters_say_what_to_fix_and_keep_what_was_typed(client, loop, tree):
    client.force_login(loop.office)
    # when the end is before the start
    page = client.get(reverse("centre:index"), {"from": "2026-11-29", "to": "2026-11-23", "channel": "HOTLINE"})
    data = client.get(reverse("centre:cells"), {"from": "2026-11-29", "to": "2026-11-23"})
    bad_state = client.get(reverse("centre:cases"), {"state": "CLOSED"})
    # then the page says so with status 400 and keeps the values; the endpoints answer 400 with the errors
    assert page.status_code == 400
    html = page.content.decode()
    assert "the end date is before the start date" in html
    assert 'value="2026-11-29"' in html and '<option value="HOTLINE" selected>' in html
    assert data.status_code == 400 and "to" in data.json()["errors"]
    assert bad_state.status_code == 400 and "state" in bad_state.json()["errors"]


def _queries(client, name, params) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse(name), params).status_code == 200
    return len(ctx.captured_queries)


# the statements each centre and dashboard page runs for a community leader (see cases/tests/test_page_budgets.py)
BUDGETS = {"centre:index": 13, "centre:cells": 11, "centre:cases": 10, "centre:workers": 11, "dashboard:index": 22}


def test_pages_and_endpoints_run_as_many_queries_whatever_the_number_of_cases(client, loop, week, tree):
    # given the week, counted once
    client.force_login(loop.leader)
    names = ("centre:index", "centre:cells", "centre:cases", "centre:workers", "dashboard:index")
    params = {"cell": tree["community"].pk, **WEEK}
    before = {name: _queries(client, name, params) for name in names}
    # when ten more cases come in, in both grids, and some are worked on
    for i in range(10):
        lon, lat = point_in(tree["g1" if i % 2 else "g2"])
        case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001", lon=lon, lat=lat,
                           description=f"占道 {i}", at=dt.datetime(2026, 11, 24, 9, i, tzinfo=dt.UTC)).case
        if i % 3 == 0:
            case_transition(case=case, actor=loop.office, action="register", at=dt.datetime(2026, 11, 24, 10,
                                                                                           tzinfo=dt.UTC))
    after = {name: _queries(client, name, params) for name in names}
    # then every page and endpoint runs the same handful of queries: exactly its budget (issue 13, item 7)
    assert after == before == BUDGETS
    assert max(before.values()) <= 25


# ---------------------------------------------------------------------------------------------- dashboard
def test_dashboard_figures_and_tables_of_the_week(client, loop, week, tree):
    # given the community's leader
    client.force_login(loop.leader)
    # when the week is asked for
    response = client.get(reverse("dashboard:index"), {"cell": tree["community"].pk, **WEEK})
    # then the cards and the tables hold the hand-counted figures (see test_kpi / scenario.py)
    assert response.status_code == 200
    cards = {c["key"]: c["value"] for c in response.context["figure_cards"]}
    assert cards == {"reported": 8, "registered": 6, "closed": 5, "closure_rate": 83.3, "on_time_rate": 80.0,
                     "rework_rate": 20.0, "handling_hours": 34.1, "satisfaction": 4.0}
    tables = tables_of(response)
    assert tables["table-cells"][1:] == [
        ["一网格", "5", "4", "3", "75.0", "66.7", "0.0", "33.0", "4.0", "2"],
        ["二网格", "2", "2", "2", "100.0", "100.0", "50.0", "35.8", "—", "0"],
        ["白云寺村 itself", "1", "0", "0", "—", "—", "—", "—", "—", "0"],
    ]
    assert [row[0] for row in tables["table-categories"][1:]] == ["01 Municipal utilities", "02 Street order",
                                                                  "10 Disputes"]
    assert [row[:4] for row in tables["table-departments"][1:]] == [["区水务局", "2", "2", "1"],
                                                                    ["Not with a department", "6", "4", "4"]]
    assert [row[0] for row in tables["table-trend"][1:]] == [f"2026-11-{d}" for d in range(23, 30)]
    assert tables["table-satisfaction"][1:] == [["1", "0"], ["2", "0"], ["3", "1"], ["4", "0"], ["5", "1"]]
    charts = response.context["charts"]
    assert charts["cells"]["labels"] == ["一网格", "二网格", "白云寺村 itself"]
    assert charts["cells"]["series"][0]["data"] == [5, 2, 1]
    assert charts["trend"]["type"] == "line" and len(charts["trend"]["labels"]) == 7
    assert 'id="dashboard-charts"' in response.content.decode()


def test_dashboard_drills_down_from_district_to_grid(client, loop, week, tree):
    client.force_login(loop.centre)
    url = reverse("dashboard:index")
    # given the district's dashboard of the week
    district = client.get(url, {**WEEK})
    # when following the street's link, then the community's, then the grid's
    street_link = district.context["tables"][0].links[0]
    street = client.get(street_link)
    community = client.get(street.context["tables"][0].links[0])
    grid = client.get(community.context["tables"][0].links[0])
    # then each level is the one below, the period is kept, and the grid (no cells below) says so
    assert district.context["place"].cell == tree["district"]
    assert street.context["place"].cell == tree["street"]
    assert community.context["place"].cell == tree["community"]
    assert grid.context["place"].cell == tree["g1"]
    assert "from=2026-11-23" in street_link and "to=2026-11-29" in street_link
    assert grid.context["figures"].reported == 5
    assert "This cell has no cells below it." in grid.content.decode()
    assert [n.name for n in grid.context["place"].chain] == ["平谷区", "金海湖镇", "白云寺村", "一网格"]
    # and the map of the community's grids drills down too
    features = community.context["child_map"]["features"]
    assert [f["properties"]["name"] for f in features] == ["一网格", "二网格"]
    assert features[0]["properties"]["closure"] == 75.0 and features[0]["properties"]["on_time"] == 66.7
    assert features[0]["properties"]["url"] == community.context["tables"][0].links[0]


def _value(v):
    """A cell as a number when it reads as one (a spreadsheet keeps 75.0 as the number 75)."""
    if v in (None, ""):
        return ""
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


@pytest.mark.parametrize("key", ["cells", "categories", "departments", "trend", "satisfaction"])
def test_export_holds_exactly_the_rows_shown(client, loop, week, tree, key):
    # given the week's dashboard of the community, filtered to street-order cases
    client.force_login(loop.leader)
    params = {"cell": tree["community"].pk, "category": "02", **WEEK}
    shown = tables_of(client.get(reverse("dashboard:index"), params))[f"table-{key}"]
    # when the table is exported to CSV and to XLSX
    as_csv = client.get(reverse("dashboard:index"), {**params, "export": key, "format": "csv"})
    as_xlsx = client.get(reverse("dashboard:index"), {**params, "export": key, "format": "xlsx"})
    # then both files hold the rows on screen, cell for cell (an empty cell where the page shows a dash)
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(as_csv.streaming_content).decode("utf-8-sig"))))
    expected = [["" if v == "—" else v for v in row] for row in shown[1:]]
    assert rows[1:] == expected
    assert [h.split(" / ")[-1] for h in rows[0]] == shown[0]
    book = load_workbook(io.BytesIO(b"".join(as_xlsx.streaming_content)))
    sheet = [list(r) for r in book.active.iter_rows(min_row=2, values_only=True)]
    assert [[_value(v) for v in row] for row in sheet] == [[_value(v) for v in row] for row in expected]
    assert len(expected) >= 1


def test_export_of_an_unknown_table_or_format_says_what_to_choose(client, loop, tree):
    client.force_login(loop.leader)
    for params in ({"export": "people"}, {"export": "cells", "format": "pdf"}):
        response = client.get(reverse("dashboard:index"), {"cell": tree["community"].pk, **params})
        assert response.status_code == 400
        assert "xlsx or csv" in response.content.decode()


def test_dashboard_defaults_to_the_last_30_days_by_day(client, loop, tree):
    client.force_login(loop.leader)
    response = client.get(reverse("dashboard:index"))
    today = timezone.localdate()
    assert response.context["form"].cleaned_data["from"] == today - dt.timedelta(days=29)
    assert response.context["form"].cleaned_data["to"] == today
    assert len(response.context["charts"]["trend"]["labels"]) == 30
    assert f'value="{today.isoformat()}"' in response.content.decode()


def test_dashboard_trend_by_week_and_month_and_the_limit_on_days(client, loop, week, tree):
    client.force_login(loop.leader)
    url = reverse("dashboard:index")
    weeks = client.get(url, {"cell": tree["community"].pk, "from": "2026-11-01", "to": "2026-11-30", "period": "week"})
    months = client.get(url, {"cell": tree["community"].pk, "from": "2026-10-01", "to": "2026-11-30",
                              "period": "month"})
    too_many = client.get(url, {"from": "2024-01-01", "to": "2026-11-30", "period": "day"})
    assert weeks.context["charts"]["trend"]["labels"] == ["2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16",
                                                          "2026-11-23", "2026-11-30"]
    assert months.context["charts"]["trend"]["labels"] == ["2026-10", "2026-11"]
    # November: the week's 8, E (20th), H (22nd), I (30th)
    assert months.context["charts"]["trend"]["series"][0]["data"] == [0, 11]
    assert too_many.status_code == 400 and "choose week or month" in too_many.content.decode()


def test_dashboard_filters_count_only_matching_cases(client, loop, week, tree):
    client.force_login(loop.leader)
    response = client.get(reverse("dashboard:index"), {"cell": tree["community"].pk, "channel": "PATROL", **WEEK})
    figures = response.context["figures"]
    # only F was a patrol report: reported, registered and closed on the spot within an hour
    assert (figures.reported, figures.registered, figures.closed, figures.closed_on_time) == (1, 1, 1, 1)
    assert figures.handling_hours == pytest.approx(1.0)


def test_dashboard_scope_counts_only_the_users_territory(client, loop, week, tree):
    # given a second district with a case in the same week, which the community leader does not see
    other = make_scheme()
    other_tree = make_tree(other, origin=(118.0, 40.0))
    other_loop = make_loop(other, other_tree)
    lon, lat = point_in(other_tree["g1"])
    case_report(actor=other_loop.office, channel=Channel.HOTLINE, scheme=other, matter="02001", lon=lon, lat=lat,
                description="占道", at=dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC))
    client.force_login(loop.leader)
    # when / then
    response = client.get(reverse("dashboard:index"), WEEK)
    assert response.context["place"].cell == tree["community"]
    assert response.context["figures"].reported == 8
    assert client.get(reverse("dashboard:index"), {"cell": other_tree["district"].pk}).status_code == 404



def test_the_report_level_filter_narrows_the_centre_and_the_dashboard(client, loop, week):
    # given a district-wide user and the week of cases, some of them urgent (the manhole covers)
    from gridgov.cases.models import Case
    from gridgov.cases.states import OPEN_STATES

    client.force_login(loop.centre)
    district = loop.tree["district"].pk
    urgent_open = Case.objects.filter(report_level="URGENT", state__in=OPEN_STATES, lon__isnull=False).count()
    urgent_all = Case.objects.filter(report_level="URGENT").count()
    assert 0 < urgent_all < Case.objects.count()
    # when the level is chosen on the centre
    res = client.get(reverse("centre:cases"), {"cell": district, "report_level": "URGENT"})
    # then only urgent open cases are drawn
    assert res.status_code == 200
    assert len(res.json()["features"]) == urgent_open
    # and the dashboard counts only urgent cases, with the level kept in its link to the centre
    res = client.get(reverse("dashboard:index"), {"cell": district, "report_level": "URGENT",
                                                   "from": "2026-01-01", "to": "2026-12-31", "period": "month"})
    assert res.status_code == 200
    assert res.context["figures"].reported == urgent_all
    assert "report_level=URGENT" in res.context["centre_url"]
