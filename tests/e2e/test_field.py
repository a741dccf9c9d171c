"""The grid worker's phone pages in a real browser at 360 × 740: the home page with tasks and cells, and a
report made with a camera photo, the phone's position (permission granted in the browser) and the matter
found by its pinyin initials. Screenshots go to test-artifacts/screenshots/field-*.png."""

from __future__ import annotations

import datetime as dt

import pytest

from gridgov.accounts.models import PositionReport
from gridgov.cases.models import Case, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.cases.watch import sla_watch
from gridgov.territory.tests.factories import make_scheme, make_tree
from tests.e2e.a11y import assert_accessible, no_horizontal_scroll
from tests.e2e.conftest import ConsoleLog
from tests.e2e.pages import SCREENSHOTS, enrolled_device, second_factor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Grid-demo-2026!"
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def loop(transactional_db):
    scheme = make_scheme("pinggu")
    tree = make_tree(scheme, origin=(117.10, 40.10))
    loop = make_loop(scheme, tree)
    # two cases waiting on the worker of grid 1: one overdue, one just dispatched
    for days, text in ((10, "路口占道经营，上周派的"), (0, "菜市场门口占道经营")):
        at = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        lon, lat = point_in(tree["g1"])
        case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001", lon=lon, lat=lat,
                           description=text, at=at).case
        case = case_transition(case=case, actor=loop.office, action="register", at=at)
        case_transition(case=case, actor=loop.office, action="dispatch", at=at)
    sla_watch()
    return loop


@pytest.fixture
def phone(browser, live_server, loop):
    """A 360 px phone in Chinese whose browser may give its position (inside grid 1)."""
    lon, lat = point_in(loop.tree["g1"])
    context = browser.new_context(locale="zh-CN", viewport=PHONE, device_scale_factor=2, has_touch=True,
                                  geolocation={"longitude": lon, "latitude": lat, "accuracy": 15})
    context.grant_permissions(["geolocation"], origin=live_server.url)
    page = context.new_page()
    log = ConsoleLog(page)
    device = enrolled_device(loop.worker)  # before the password step: asked for a code, not an enrolment
    page.goto(f"{live_server.url}/login/?next=/m/")
    page.fill("#id_username", loop.worker.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    second_factor(page, device)
    page.wait_for_url(f"{live_server.url}/m/")
    yield page, log
    context.close()


def test_home_on_a_phone(phone, loop):
    page, log = phone
    # the tasks, overdue first, with the colour written out
    tasks = page.locator("[data-tasks] > li")
    assert tasks.count() == 2
    assert "sla-edge-OVERDUE" in tasks.nth(0).get_attribute("class")
    assert tasks.nth(0).locator(".sla-OVERDUE").is_visible()
    assert "sla-edge-ON_TIME" in tasks.nth(1).get_attribute("class")
    # my cell with its people in charge, each phone a tel: link big enough to tap
    cell = page.locator(".field-cell")
    assert cell.locator("h3").inner_text().startswith("一网格")
    call = cell.locator("a.phone").first
    assert call.get_attribute("href").startswith("tel:") and call.bounding_box()["height"] >= 44
    report = page.locator("a.field-big-button")
    assert report.bounding_box()["height"] >= 44
    assert no_horizontal_scroll(page) and page.evaluate("document.documentElement.scrollWidth") <= 360
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "field-home.png", full_page=True)
    # the position goes only after the worker asks, and is kept
    with page.expect_response(lambda r: r.url.endswith("/m/position/")) as sent:
        page.click("[data-share-position]")
    assert sent.value.status == 204
    assert page.locator("[data-share-position]").get_attribute("aria-pressed") == "true"
    assert PositionReport.objects.filter(user=loop.worker).count() == 1
    assert log.errors == []


def test_report_a_problem_in_under_a_minute(phone, loop):
    page, log = phone
    page.click("a.field-big-button")
    page.wait_for_url("**/m/report/")
    # the map of my cell is drawn
    page.wait_for_selector("#report-map[data-ready='1']")
    assert page.locator("#report-map path.leaflet-interactive").count() == 1
    # a photo from the camera, previewed
    page.set_input_files("#photos", files=[{"name": "photo.png", "mimeType": "image/png",
                                            "buffer": png(size=(64, 48))}])
    page.wait_for_selector("[data-previews-for=photos] img")
    # a tap on the map sets the point ...
    page.locator("#report-map").click(position={"x": 120, "y": 100})
    assert page.locator("[data-lon]").input_value() != ""
    # ... and "use my position" replaces it with the phone's, with its accuracy
    with page.expect_response(lambda r: r.url.endswith("/m/position/")) as sent:
        page.click("[data-locate]")
    assert sent.value.status == 204
    lon, lat = point_in(loop.tree["g1"])
    page.wait_for_function("() => document.querySelector('[data-accuracy]').value === '15'")
    assert abs(float(page.locator("[data-lon]").input_value()) - lon) < 1e-6
    assert abs(float(page.locator("[data-lat]").input_value()) - lat) < 1e-6
    # the matter found by typing its pinyin initials, chosen with the keyboard
    assert page.locator("#matter").is_hidden()
    page.fill("#matter-search", "jg")
    page.wait_for_selector("#matter-options [role=option][data-code='01001']")
    assert page.locator("#matter-search").get_attribute("aria-expanded") == "true"
    page.press("#matter-search", "Enter")
    assert page.locator("#matter").input_value() == "01001"
    assert page.locator("#matter-search").input_value().startswith("01001")
    # the matter asks what is wrong with the cover
    page.select_option("#attr_problem", "missing")
    page.fill("#description", "幸福路口井盖缺失，已设临时警示")
    assert no_horizontal_scroll(page) and page.evaluate("document.documentElement.scrollWidth") <= 360
    assert_accessible(page)
    page.screenshot(path=SCREENSHOTS / "field-report.png", full_page=True)
    # when sent
    page.click(".field-submit-row button[type=submit]")
    page.wait_for_url("**/m/report/2*/")
    # then the case is in grid 1, from the patrol, with the photo, and its number is shown
    case = Case.objects.get(reporter=loop.worker)
    assert case.channel == Channel.PATROL and case.node == loop.tree["g1"] and case.matter.code == "01001"
    assert case.attributes == {"problem": "missing"} and case.attachments.count() == 1
    assert page.locator("[data-number]").inner_text() == case.number
    assert no_horizontal_scroll(page)
    # and it is listed as reported by me on the home page
    page.goto(page.url.split("/m/")[0] + "/m/")
    assert case.number in page.locator("#reported-title + ul").inner_text()
    assert log.errors == []


def test_report_without_javascript_falls_back_to_plain_fields(browser, live_server, loop):
    # given a phone browser with JavaScript off
    context = browser.new_context(locale="en-US", viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    device = enrolled_device(loop.worker)  # before the password step: asked for a code, not an enrolment
    page.goto(f"{live_server.url}/login/?next=/m/report/")
    page.fill("#id_username", loop.worker.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    second_factor(page, device)  # the code page works without JavaScript too
    page.wait_for_url("**/m/report/")
    # then the matter is a select grouped by category, and the place a select of my cells
    assert page.locator("#matter").is_visible() and page.locator("#matter optgroup").count() == 3
    assert page.locator("#matter-search").is_hidden()
    # when the form is sent with the cell chosen but no description
    page.select_option("#matter", "02001")
    page.select_option("#node", str(loop.tree["g1"].pk))
    page.click(".field-submit-row button[type=submit]")
    # then the error is next to the description and the choices are kept
    assert page.locator("#description-errors").is_visible()
    assert page.locator("#matter").input_value() == "02001"
    page.fill("#description", "Street vending at the corner")
    page.click(".field-submit-row button[type=submit]")
    page.wait_for_url("**/m/report/2*/")
    assert Case.objects.filter(reporter=loop.worker, node=loop.tree["g1"]).count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()
