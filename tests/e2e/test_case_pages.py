"""The staff case pages in a real browser: the command centre's list and case page on a wide screen (the map
of the case drawn, an action form loaded into the page and sent), and the department handler on a 360 px
phone (accept, then report back with a photo). Screenshots go to test-artifacts/screenshots/cases-*.png."""

from __future__ import annotations

import pytest

from gridgov.cases.models import Case, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.territory.tests.factories import make_scheme, make_tree
from tests.e2e.a11y import assert_accessible, no_horizontal_scroll
from tests.e2e.pages import SCREENSHOTS, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



@pytest.fixture
def loop(transactional_db):
    scheme = make_scheme("pinggu")
    tree = make_tree(scheme, origin=(117.10, 40.10))
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    # a new hotline call, and a manhole cover dispatched to the water team
    case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001", lon=lon, lat=lat,
                description="菜市场门口占道经营", reporter_phone="13812345678")
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="01001", lon=lon, lat=lat,
                       description="北门井盖丢失，已有行人绊倒", photos=[png((120, 90, 40), (64, 48))],
                       reporter_name="张三", reporter_phone="13912345678", attributes={"problem": "missing"}).case
    case = case_transition(case=case, actor=loop.office, action="register")
    case_transition(case=case, actor=loop.office, action="dispatch", assignee={"kind": "DEPARTMENT", "department": "water"})
    return loop


def test_centre_lists_opens_and_registers_a_case(new_page, live_server, loop):
    page, log = new_page(width=1920, height=1080)
    reported = Case.objects.get(state=CaseState.REPORTED)
    water = Case.objects.get(state=CaseState.DISPATCHED)
    # the list: both cases, the filter bar open, exports offered
    log_in(page, live_server, loop.centre, "/cases/")
    assert page.locator("table.case-table tbody tr").count() == 2
    assert page.locator("details.case-filter-box").get_attribute("open") is not None
    page.select_option("#id_category", "01")
    page.click(".case-filters button[type=submit]")
    page.wait_for_url("**/cases/?*category=01*")
    assert page.locator("table.case-table tbody tr").count() == 1
    assert "format=xlsx" in page.locator("a[href*='format=xlsx']").get_attribute("href")
    assert_accessible(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "cases-list-1920.png"), full_page=True)

    # the dispatched case: its map drawn with the cell and the point, two columns side by side
    page.goto(f"{live_server.url}/cases/{water.number}/")
    page.wait_for_selector("#case-map[data-ready='1']")
    assert page.locator("#case-map path.leaflet-interactive").count() == 2  # the cell and the case's point
    main, side = page.locator(".case-main").bounding_box(), page.locator(".case-actions").bounding_box()
    assert side["x"] > main["x"] + main["width"] - 1
    assert page.locator(".case-timeline > li").count() == 3
    assert page.locator(".case-photos img").evaluate("img => img.complete && img.naturalWidth") == 64
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "cases-detail-1920.png"), full_page=True)
    # who called: masked, revealed in place once a purpose is given
    assert "139****5678" in page.locator("#case-reporter").inner_text()
    page.fill("#id_purpose", "回访核实")
    page.click("#case-reporter button[type=submit]")
    page.wait_for_selector("#case-reporter a[href='tel:13912345678']")
    assert "张三" in page.locator("#case-reporter").inner_text()

    # the new case: register through the form loaded into the page, the matter found by pinyin initials
    page.goto(f"{live_server.url}/cases/{reported.number}/")
    page.click(".case-buttons [data-action=register]")
    page.wait_for_selector("#case-action-panel form.case-action-form")
    page.fill("#id_matter_find", "zdjy")
    assert page.locator("#id_matter option:not([value=''])").all_inner_texts() == ["02001 占道经营"]
    page.select_option("#id_matter", "02001")
    page.fill("#id_note", "现场确认属实")
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "cases-register-1920.png"), full_page=True)
    page.click("#case-action-panel button[type=submit]")
    page.wait_for_selector(".messages .success")
    assert page.locator(".case-badges [data-state]").get_attribute("data-state") == "REGISTERED"
    assert page.locator(".case-buttons [data-action=dispatch]").is_visible()
    assert log.errors == []


def test_handler_accepts_and_reports_back_on_a_phone(new_page, live_server, loop, tmp_path):
    page, log = new_page(width=360, height=740, scale=2)
    water = Case.objects.get(state=CaseState.DISPATCHED)
    photo = tmp_path / "after.png"
    photo.write_bytes(png((20, 140, 60), (32, 32)))
    log_in(page, live_server, loop.handler, f"/cases/{water.number}/")
    # one column, the actions first, nothing wider than the phone, and nothing about the caller
    assert no_horizontal_scroll(page)
    actions, main = page.locator(".case-actions").bounding_box(), page.locator(".case-main").bounding_box()
    assert actions["y"] < main["y"]
    assert page.locator("#case-reporter").count() == 0 and "13912345678" not in page.content()
    page.wait_for_selector("#case-map[data-ready='1']")
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "cases-detail-360.png"), full_page=True)
    # accept
    page.click(".case-buttons [data-action=accept]")
    page.wait_for_selector("#case-action-panel form")
    page.click("#case-action-panel button[type=submit]")
    page.wait_for_selector(".messages .success")
    assert page.locator(".case-badges [data-state]").get_attribute("data-state") == "IN_PROGRESS"
    # report back without the photo: the error names the photo; then with it
    page.click(".case-buttons [data-action=report_back]")
    page.wait_for_selector("#case-action-panel form")
    page.fill("#id_note", "井盖已补齐")
    page.click("#case-action-panel button[type=submit]")
    page.wait_for_selector("#id_after_photos_error1")
    assert page.input_value("#id_note") == "井盖已补齐"
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(SCREENSHOTS / "cases-report-back-error-360.png"), full_page=True)
    page.set_input_files("#id_after_photos", str(photo))
    page.click("main button[type=submit]")
    page.wait_for_selector(".messages .success")
    assert page.locator(".case-badges [data-state]").get_attribute("data-state") == "REPORTED_BACK"
    water.refresh_from_db()
    assert water.state == CaseState.REPORTED_BACK and water.attachments.filter(purpose="AFTER").count() == 1
    # the page's only 4xx is the report back sent without its photo (400, the form shown again)
    # the list on the phone: the filters folded, a multiple choice opened inside the screen
    page.goto(f"{live_server.url}/cases/")
    assert page.locator("details.case-filter-box").get_attribute("open") is None
    page.click("details.case-filter-box > summary")
    page.click("details.multi:has(#id_state_0) > summary")
    assert page.locator("#id_state_0").is_visible() and no_horizontal_scroll(page)
    assert page.locator("table.case-table tbody tr").count() == 1
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / "cases-list-360.png"), full_page=True)
    expected = [e for e in log.errors if e.startswith("HTTP 400") or "status of 400 (Bad Request)" in e]
    assert [e for e in log.errors if e not in expected] == []
    assert len([e for e in expected if e.startswith("HTTP 400")]) == 1
