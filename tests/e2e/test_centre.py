"""The command centre and the dashboard in a real browser: the map draws the cells below with their colours,
the clustered case markers and the workers' positions, the queue loads beside it, filters redraw without
a reload; the dashboard's charts draw (SVG) and a click on a bar or a map cell drills down. At 1920 px and
at 360 px, with no console error.

Screenshots go to test-artifacts/screenshots/ (centre-map.png, dashboard.png at 1920×1080, and the 360 px views)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from gridgov.accounts.models import PositionReport
from gridgov.cases.models import Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop
from gridgov.dashboard.tests.scenario import WEEK, build_week
from gridgov.territory.tests.factories import make_scheme, make_tree
from tests.e2e.a11y import assert_accessible, no_horizontal_scroll
from tests.e2e.pages import SCREENSHOTS, enrolled_device, second_factor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Grid-demo-2026!"
PERIOD = f"from={WEEK[0]:%Y-%m-%d}&to={WEEK[1]:%Y-%m-%d}"


@pytest.fixture
def district(transactional_db):
    """The test district with the hand-counted week (scenario.py), a dozen more open cases spread over both
    grids (some dispatched, some overdue) and both grid workers' recent positions."""
    scheme = make_scheme("pinggu")
    tree = make_tree(scheme, origin=(117.10, 40.10))
    loop = make_loop(scheme, tree)
    week = build_week(loop)
    now = timezone.now()
    for i in range(12):
        lon, lat = 117.105 + (i % 6) * 0.016, 40.12 + (i // 6) * 0.05
        case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001" if i % 3 else "01001",
                           lon=lon, lat=lat, description=f"巡查发现 {i}", attributes={"problem": "damaged"}
                           if i % 3 == 0 else None, at=now - dt.timedelta(days=i % 4, hours=i)).case
        if i % 2 == 0:
            case = case_transition(case=case, actor=loop.office, action="register", at=case.reported_at)
            case_transition(case=case, actor=loop.office, action="dispatch", at=case.reported_at)
    PositionReport.objects.create(user=loop.worker, lon=117.12, lat=40.15, accuracy_m=12,
                                  reported_at=now - dt.timedelta(minutes=10))
    PositionReport.objects.create(user=loop.worker2, lon=117.17, lat=40.16, reported_at=now - dt.timedelta(minutes=25))
    return {"loop": loop, "tree": tree, "week": week}


def login(page, live_server, user):
    device = enrolled_device(user)  # before the password step: asked for a code, not an enrolment
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    second_factor(page, device)
    page.wait_for_url(re.compile(r".*/(centre|m|inbox|cases|manage|people)/.*"))
    page.wait_for_load_state("networkidle")  # the home page's own requests done before moving on


def test_centre_map_queue_and_drill_down(live_server, district, new_page):
    loop, tree = district["loop"], district["tree"]
    # given the street office at the command centre screen
    page, log = new_page(locale="zh-CN", width=1920, height=1080)
    login(page, live_server, loop.office)
    # when it opens the community
    page.goto(f"{live_server.url}/centre/?cell={tree['community'].pk}")
    page.wait_for_selector("#centre-map[data-ready='1']")
    page.wait_for_selector("#centre-queue .case-queue")
    # then both grids are drawn as cells, g2 red (an overdue case), with the case markers clustered
    cells = page.locator("#centre-map path.centre-cell")
    assert cells.count() == 2
    g2 = page.locator(f"#centre-map path.centre-cell[data-cell='{tree['g2'].pk}']")
    assert int(g2.get_attribute("data-overdue")) >= 1
    assert g2.get_attribute("stroke") == "#b3261e"
    drawn_cases = int(page.locator("#centre-map").get_attribute("data-cases"))
    assert drawn_cases == 16  # the week's D H I K and the twelve new ones
    clusters = page.locator("#centre-map .marker-cluster")
    single = page.locator("#centre-map .case-marker")
    in_clusters = sum(int(t) for t in clusters.all_inner_texts())
    assert clusters.count() >= 1 and in_clusters + single.count() == drawn_cases
    assert page.locator("#centre-map .worker-marker").count() == 2
    assert page.locator("#centre-live [data-figure='open'] .value").inner_text() == "17"
    page.screenshot(path=SCREENSHOTS / "centre-map.png")
    # and a marker's popup names the case and links to it
    for _ in range(6):  # zoom into clusters until single markers show
        if page.locator("#centre-map .case-marker").count():
            break
        page.locator("#centre-map .marker-cluster").first.click()
        page.wait_for_timeout(700)
    page.locator("#centre-map .case-marker").first.click()
    popup = page.locator(".leaflet-popup-content .case-popup")
    popup.wait_for()
    assert re.search(r"\d{8}-\d{7}", popup.inner_text())
    assert popup.locator("a").get_attribute("href").startswith("/cases/")

    # when a filter changes, the live part and the map follow without a reload
    page.evaluate("window.__sameDocument = true")
    page.select_option("#id_category", "01")
    page.wait_for_url(re.compile(r".*category=01.*"))
    page.wait_for_function("() => document.querySelector('#centre-live').dataset.query.includes('category=01')")
    page.wait_for_function("() => document.querySelector('#centre-map').dataset.cases === '5'")
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("#centre-live [data-figure='open'] .value").inner_text() == "5"

    # when the grid 1 cell is clicked on the map, the centre drills down to it
    page.wait_for_load_state("networkidle")
    page.locator(f"#centre-map path.centre-cell[data-cell='{tree['g1'].pk}']").click(force=True)
    page.wait_for_url(re.compile(rf".*cell={tree['g1'].pk}.*"))
    page.wait_for_selector("#centre-map[data-ready='1']")
    assert "一网格" in page.locator("h1").inner_text()
    assert page.locator(".chain li").all_inner_texts() == ["金海湖镇", "白云寺村", "一网格"]
    # and the cell select goes back up to the community
    page.wait_for_load_state("networkidle")
    page.select_option("#id_cell", str(tree["community"].pk))
    page.wait_for_url(re.compile(rf".*cell={tree['community'].pk}.*"))
    page.wait_for_selector("#centre-map[data-ready='1']")
    assert page.locator("#centre-map path.centre-cell").count() == 2
    assert log.errors == []


def test_dashboard_charts_drawn_and_bars_drill_down(live_server, district, new_page):
    loop, tree = district["loop"], district["tree"]
    # given the district-wide centre user on a 1920 × 1080 screen
    page, log = new_page(locale="zh-CN", width=1920, height=1080)
    login(page, live_server, loop.centre)
    # when the district's dashboard of the week opens
    page.goto(f"{live_server.url}/dashboard/?{PERIOD}")
    for key in ("cells", "categories", "trend", "departments", "satisfaction"):
        page.wait_for_selector(f"#chart-{key}[data-ready='1']")
    # then every chart is drawn as SVG with as many categories as its table has rows
    for key, points in (("cells", 1), ("categories", 3), ("trend", 7), ("departments", 2), ("satisfaction", 5)):
        chart = page.locator(f"#chart-{key}")
        assert chart.get_attribute("data-points") == str(points)
        assert chart.locator("svg path").count() > 0
        assert page.locator(f"#table-{key} tbody tr").count() == points
    assert page.locator("[data-figure='reported'] .value").inner_text() == "8"
    assert page.locator("#child-map[data-ready='1'] path.child-cell").count() == 1
    page.screenshot(path=SCREENSHOTS / "dashboard.png")

    # when the street's bar is clicked: the street; then the community's; then grid 1's
    for expected in (tree["street"], tree["community"], tree["g1"]):
        box = page.locator("#chart-cells").bounding_box()
        # the first bar's band, just above the axis
        x, y = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-cells'))"
                             ".convertToPixel({seriesIndex: 0}, [0, 0])")
        page.mouse.click(box["x"] + x, box["y"] + y - 6)
        page.wait_for_url(re.compile(rf".*cell={expected.pk}.*"))
        if expected != tree["g1"]:
            page.wait_for_selector("#chart-cells[data-ready='1']")
    # then the grid's dashboard keeps the period and has no cells below
    assert "from=2026-11-23" in page.url
    assert page.locator("h1").inner_text().endswith("网格") and "一网格" in page.locator("h1").inner_text()
    assert page.locator("#chart-cells").count() == 0
    page.wait_for_selector("#chart-trend[data-ready='1']")
    assert page.locator("[data-figure='reported'] .value").inner_text() == "5"
    assert log.errors == []


def test_centre_and_dashboard_on_a_phone(live_server, district, new_page):
    loop = district["loop"]
    # given the community leader on a 360 px phone
    page, log = new_page(locale="zh-CN", width=360, height=740, scale=2)
    login(page, live_server, loop.leader)
    # when the centre opens (the leader's own community by default), then the dashboard
    page.goto(f"{live_server.url}/centre/")
    page.wait_for_selector("#centre-map[data-ready='1']")
    page.wait_for_selector("#centre-queue .case-queue")
    # then nothing is wider than the phone and the page passes the accessibility checks
    assert page.locator("#centre-map path.centre-cell").count() == 2
    assert no_horizontal_scroll(page)
    assert_accessible(page)
    page.screenshot(path=SCREENSHOTS / "centre-map-360.png", full_page=True)
    page.goto(f"{live_server.url}/dashboard/?{PERIOD}")
    page.wait_for_selector("#chart-cells[data-ready='1']")
    page.wait_for_selector("#chart-trend[data-ready='1']")
    assert page.locator("#chart-cells").get_attribute("data-points") == "3"
    assert no_horizontal_scroll(page)
    assert_accessible(page)
    page.screenshot(path=SCREENSHOTS / "dashboard-360.png", full_page=True)
    assert log.errors == []
