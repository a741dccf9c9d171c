"""Base data in a real browser: a cell's figures, drill-down, a masked resident, a reveal with a purpose."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from gridgov.people.tests.factories import make_household
from gridgov.privacy.access import clear_value
from gridgov.privacy.models import AccessLog
from gridgov.territory.tests.factories import make_scheme, make_tree
from tests.e2e.pages import SCREENSHOTS, enrolled_device, second_factor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Root-pass-2026!"


@pytest.fixture
def village(transactional_db):
    scheme = make_scheme("pinggu-people")
    tree = make_tree(scheme, origin=(117.10, 40.10))
    household, people = make_household(scheme, tree["g1"], head_name="王晓东", members=2)
    make_household(scheme, tree["g2"], members=1)
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    return tree, household, people


def test_cell_figures_drill_down_and_reveal(live_server, village, new_page):
    tree, _household, (head, *_members) = village
    page, log = new_page(locale="en-GB")
    device = enrolled_device(get_user_model().objects.get(username="root"))  # before the password step: asked for a code, not an enrolment
    page.goto(f"{live_server.url}/admin/login/?next=/people/cells/{tree['community'].pk}/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")  # the admin logs in through the site's login flow
    second_factor(page, device)
    page.wait_for_url(f"**/people/cells/{tree['community'].pk}/")
    # the village has 5 residents in 2 households; drill down into 一网格 (3 residents)
    body = page.locator("main").inner_text()
    assert "5" in body and "2" in body
    page.screenshot(path=str(SCREENSHOTS / "people-cell.png"), full_page=True)
    page.get_by_role("link", name="一网格").first.click()
    page.wait_for_url(f"**/people/cells/{tree['g1'].pk}/")
    page.goto(f"{live_server.url}/people/residents/{head.pk}/")
    # masked by default: surname and stars, no clear ID number or phone anywhere in the page
    html = page.content()
    assert "王*" in html and head.id_masked in html
    phone = clear_value(head, "phone")
    assert "王晓东" not in html and phone not in html and clear_value(head, "id_number") not in html
    # reveal the phone with a purpose (htmx swaps the form in and the answer)
    page.get_by_role("link", name="Reveal").click()
    page.locator("input[name=purpose], textarea[name=purpose]").fill("入户走访核实联系方式")
    boxes = page.locator(".reveal-form fieldset input[type=checkbox]")
    for i in range(boxes.count()):
        boxes.nth(i).uncheck()
    page.get_by_label("Phone").check()
    page.locator(".reveal-form button[type=submit]").click()
    page.locator(".revealed").wait_for()
    assert page.locator(".revealed td.clear").all_inner_texts() == [phone]
    assert "王晓东" not in page.locator(".revealed").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "people-reveal.png"), full_page=True)
    entry = AccessLog.objects.get()
    assert (entry.kind, entry.record_id, entry.fields, entry.purpose) == ("REVEAL", head.pk, "phone", "入户走访核实联系方式")
    assert phone not in page.url and log.errors == []


def test_export_a_filtered_list_at_phone_width(live_server, village, new_page, settings):
    # given the residents of 一网格 (3) listed on a 360 px phone
    tree, _household, _people = village
    page, log = new_page(locale="en-GB", width=360, height=780)
    device = enrolled_device(get_user_model().objects.get(username="root"))  # before the password step: asked for a code, not an enrolment
    page.goto(f"{live_server.url}/admin/login/?next=/people/cells/{tree['g1'].pk}/residents/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")  # the admin logs in through the site's login flow
    second_factor(page, device)
    page.wait_for_url(f"**/people/cells/{tree['g1'].pk}/residents/")
    # when they open the export control and export as CSV
    page.locator("details.export-box summary").click()
    page.get_by_label("CSV text (UTF-8)").check()
    with page.expect_download() as info:
        page.locator("form.export-form button[type=submit]").click()
    # then the file downloads with the three residents, masked, and the page keeps no horizontal scroll
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert len(text.strip().splitlines()) == 4 and "王晓东" not in text
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(SCREENSHOTS / "people-export-360.png"), full_page=True)
    # and a list longer than what is written during the request goes through its job page
    settings.PEOPLE_EXPORT_INLINE_ROWS = 1
    page.locator("form.export-form button[type=submit]").click()
    page.wait_for_url("**/people/exports/*/")
    page.get_by_role("link", name="Download the file").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "people-export-job-360.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # a navigation answered by a file is reported as aborted by the browser: that is the download, not an error
    assert [e for e in log.errors if not ("/download/" in e and "ERR_ABORTED" in e)] == []
