"""The whole loop through every role's pages, in a real browser, each role in its own browser context:

a resident reports from the cell's QR page on a phone → the command centre sees it in the live queue on
a 1920 px screen, registers and dispatches it → the department handler accepts it and reports back with a
photo from the inbox on a phone → the centre verifies and closes it → the resident follows it on the
tracking page and rates it → the dashboard counts it. Also: keyboard-only use of the login and an action
form, and the accessibility checks themselves catching what they should.

Screenshots: test-artifacts/screenshots/loop-*.png."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gridgov.cases.models import Case
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png
from gridgov.territory.tests.factories import make_scheme, make_tree
from tests.e2e.a11y import assert_accessible, low_contrast, no_horizontal_scroll, unlabelled_fields
from tests.e2e.pages import SCREENSHOTS, STAFF_PASSWORD, enrolled_device, log_in, second_factor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



@pytest.fixture
def loop(transactional_db):
    scheme = make_scheme("pinggu")
    return make_loop(scheme, make_tree(scheme, origin=(117.10, 40.10)))


def act(page, action: str) -> None:
    """Open an action's form from the case page's buttons (loaded into the page by htmx)."""
    page.click(f".case-buttons [data-action={action}]")
    page.wait_for_selector(f"#case-action-panel form#act-{action}")


def send(page) -> None:
    page.click("#case-action-panel button[type=submit]")
    page.wait_for_selector(".messages .success")


def test_a_case_goes_round_the_loop_through_every_roles_pages(live_server, loop, new_page, tmp_path):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    g1 = loop.tree["g1"]
    photo = tmp_path / "photo.png"
    photo.write_bytes(png((30, 90, 200), size=(64, 48)))
    after = tmp_path / "after.png"
    after.write_bytes(png((20, 140, 60), size=(64, 48)))

    # 1. the resident, on a phone, from the cell's QR page
    resident, resident_log = new_page(width=360, height=740, scale=2)
    resident.goto(live_server.url + reverse("territory:cell-card", args=[g1.scheme.key, g1.code]))
    resident.locator(f'a[href="{reverse("cases:report", args=[g1.scheme.key, g1.code])}"]').click()
    resident.fill("#id_description", "北门井盖丢失，晚上很危险")
    resident.fill("#id_place", "北门口")
    resident.set_input_files("#id_photo", str(photo))
    resident.fill("#id_phone", "13812345678")
    resident.click("#public-report button[type=submit]")
    resident.wait_for_selector("#tracking-code")
    code = resident.locator("#tracking-code").inner_text().strip()
    case = Case.objects.get(tracking_code=code)
    assert case.state == CaseState.REPORTED and case.node == g1

    # 2. the command centre: the new case in the live queue, registered and dispatched from its page
    centre, centre_log = new_page(width=1920, height=1080)
    log_in(centre, live_server, loop.centre)
    assert centre.url.endswith("/centre/")
    centre.wait_for_selector("#centre-map[data-ready='1']")
    centre.wait_for_selector("#queue-new[data-count='1']")
    assert centre.locator("#centre-map path.centre-cell").count() >= 1
    centre.screenshot(path=str(SCREENSHOTS / "loop-1-centre-queue.png"))
    centre.locator(f"#queue-new a[href='{reverse('cases:detail', args=[case.number])}']").click()
    centre.wait_for_selector(".case-buttons [data-action=register]")
    # the centre sees who reported it (masked), as the command centre's grant says
    assert "138****5678" in centre.locator("#case-reporter").inner_text()
    act(centre, "register")
    centre.fill("#id_matter_find", "jg")
    centre.select_option("#id_matter", "01001")
    send(centre)
    assert centre.locator(".case-badges [data-state]").get_attribute("data-state") == "REGISTERED"
    act(centre, "dispatch")
    # the routing rules' suggestion is preselected: the water department's team
    assert str(loop.water_team.pk) in centre.locator("#id_assignee").input_value()
    assert_accessible(centre)
    send(centre)
    assert centre.locator(".case-badges [data-state]").get_attribute("data-state") == "DISPATCHED"

    # 3. the department handler, on a phone: the inbox, accept, report back with a photo
    handler, handler_log = new_page(width=360, height=740, scale=2)
    log_in(handler, live_server, loop.handler)
    assert handler.url.endswith("/inbox/")
    row = handler.locator(f"tr:has(a[href='{reverse('cases:detail', args=[case.number])}'])")
    assert row.count() == 1
    assert no_horizontal_scroll(handler)
    # nothing about who reported it reaches the department
    assert "138" not in handler.locator("#inbox-list").inner_text()
    handler.screenshot(path=str(SCREENSHOTS / "loop-2-inbox-360.png"), full_page=True)
    row.locator("[data-action=accept]").click()
    handler.wait_for_selector("form#act-accept")
    handler.click("form#act-accept button[type=submit]")
    handler.wait_for_url(f"{live_server.url}/inbox/*")
    case.refresh_from_db()
    assert case.state == CaseState.IN_PROGRESS
    handler.goto(live_server.url + reverse("cases:detail", args=[case.number]))
    assert "13812345678" not in handler.content() and "138****5678" not in handler.content()
    act(handler, "report_back")
    handler.fill("#id_note", "井盖已补齐")
    handler.set_input_files("#id_after_photos", str(after))
    send(handler)
    case.refresh_from_db()
    assert case.state == CaseState.REPORTED_BACK

    # 4. the centre verifies and closes it
    centre.goto(live_server.url + reverse("cases:detail", args=[case.number]))
    assert centre.locator(".case-photos img").count() == 2  # the resident's photo and the evidence
    act(centre, "verify_pass")
    send(centre)
    assert centre.locator(".case-badges [data-state]").get_attribute("data-state") == "CLOSED"
    assert centre.locator(".case-timeline > li").count() >= 6
    centre.screenshot(path=str(SCREENSHOTS / "loop-3-case-closed.png"), full_page=True)

    # 5. the resident follows it and rates it
    resident.goto(live_server.url + reverse("cases:track", args=[code]))
    steps = resident.locator(".track-step")
    assert steps.count() == 5
    assert all("step-done" in steps.nth(i).get_attribute("class") for i in range(5))
    assert "北门" not in resident.content()  # not the description, not the place
    resident.locator(".rating-form label.rating-option").nth(4).click()
    resident.click(".rating-form button[type=submit]")
    resident.wait_for_selector(".track-rating .rated")
    case.refresh_from_db()
    assert case.satisfaction == 5 and case.state == CaseState.EVALUATED
    resident.screenshot(path=str(SCREENSHOTS / "loop-4-track-rated-360.png"), full_page=True)

    # 6. the dashboard counts it
    centre.goto(live_server.url + reverse("dashboard:index"))
    centre.wait_for_selector("[data-ready='1']")
    assert centre.locator("[data-figure='closed'] .value").first.inner_text().strip() == "1"
    assert_accessible(centre)

    for log in (resident_log, centre_log, handler_log):
        assert log.errors == []


def test_log_in_and_act_with_the_keyboard_only(live_server, loop, new_page):
    # given a reported case and the login page
    from gridgov.cases.services import case_report

    case = case_report(actor=loop.office, channel="HOTLINE", matter="02001", node=loop.tree["g1"],
                       description="占道经营").case
    page, log = new_page(width=1280, height=900)
    device = enrolled_device(loop.centre)  # before the password step: asked for a code, not an enrolment
    page.goto(f"{live_server.url}/login/?next={reverse('cases:detail', args=[case.number])}")
    # when the username field has the focus, and the rest is typed, tabbed and entered
    assert page.evaluate("document.activeElement.id") == "id_username"
    page.keyboard.type(loop.centre.username)
    page.keyboard.press("Tab")
    page.keyboard.type(STAFF_PASSWORD)
    page.keyboard.press("Enter")
    second_factor(page, device)  # the code field has the focus; typed and entered
    page.wait_for_selector(".case-buttons [data-action=register]")
    # then the skip link is the first stop and leads to the content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    # and the register button is reached by tabbing and opened with Enter
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.action") == "register":
            break
    else:
        pytest.fail("the register button is not reachable with the keyboard")
    page.keyboard.press("Enter")
    page.wait_for_selector("#case-action-panel form#act-register")
    page.focus("#id_note")
    page.keyboard.type("电话核实属实")
    page.keyboard.press("Tab")
    for _ in range(10):
        if page.evaluate("document.activeElement.type") == "submit":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector(".messages .success")
    case.refresh_from_db()
    assert case.state == CaseState.REGISTERED
    assert log.errors == []


def test_the_accessibility_checks_catch_a_missing_label_and_faint_text(live_server, new_page):
    # given a page with an unlabelled field and light-grey text on white
    page, _log = new_page()
    page.set_content('<body style="background:#fff"><p style="color:#bbb">淡灰色的字</p>'
                     '<label for="a">有标签</label><input id="a"><input name="b"></body>')
    # then both are reported, and only those
    assert [field.startswith('<input name="b"') for field in unlabelled_fields(page)] == [True]
    problems = low_contrast(page)
    assert len(problems) == 1 and "淡灰色的字" in problems[0]
