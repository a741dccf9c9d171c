"""A resident on a 360 px phone, in a real browser: from the cell's card to a report with a camera photo and
the phone's position, the tracking code, the tracking page, and the rating once the case is closed.

Screenshots: test-artifacts/screenshots/resident-report.png, resident-track.png."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from gridgov.cases.models import ActionGrant, Case
from gridgov.cases.services import case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.territory.tests.factories import make_scheme, make_tree
from tests.e2e.a11y import assert_accessible, no_horizontal_scroll
from tests.e2e.pages import SCREENSHOTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



@pytest.fixture
def loop(transactional_db):
    # a transactional test flushes the rows the migrations seed: put the workflow grants back
    if not ActionGrant.objects.filter(scheme__isnull=True).exists():
        importlib.import_module("gridgov.cases.migrations.0002_guards_and_grants").grants(apps, None)
    importlib.import_module("gridgov.cases.migrations.0004_public_rating_grant").grant(apps, None)
    scheme = make_scheme("pinggu")
    return make_loop(scheme, make_tree(scheme, origin=(117.10, 40.10)))


def test_a_resident_reports_follows_and_rates_from_a_phone(live_server, loop, new_page, tmp_path):
    # given a 360 px phone in Chinese, standing in 一网格, sharing its position
    g1 = loop.tree["g1"]
    lon, lat = point_in(g1)
    page, log = new_page(locale="zh-CN", width=360, height=740, scale=2)
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    page.context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 12})
    photo = tmp_path / "photo.png"
    photo.write_bytes(png((30, 90, 200), size=(64, 48)))

    # when they open the cell's card from its QR code and choose to report a problem
    page.goto(live_server.url + reverse("territory:cell-card", args=[g1.scheme.key, g1.code]))
    page.locator(f'a[href="{reverse("cases:report", args=[g1.scheme.key, g1.code])}"]').click()
    page.wait_for_selector("#public-report")
    # then the people in charge are shown above the form, and the form fits the phone
    assert page.locator(".public-people .person").count() == 1
    assert page.locator("#id_photo").get_attribute("accept") == "image/*"
    assert page.locator("#id_photo").get_attribute("capture") == "environment"
    assert no_horizontal_scroll(page)

    # when they describe the problem, take their position and a photo, give their phone
    page.fill("#id_description", "路灯不亮，晚上很黑")
    page.fill("#id_place", "3号楼东侧")
    page.click("#use-position")
    page.wait_for_selector("#position-status.ok")
    assert page.locator("#id_lon").input_value() == f"{lon:.6f}"
    page.set_input_files("#id_photo", str(photo))
    page.fill("#id_phone", "13812345678")
    assert_accessible(page)
    page.screenshot(path=SCREENSHOTS / "resident-report.png", full_page=True)
    page.click("#public-report button[type=submit]")

    # then they get a tracking code, and the case is in the cell at their position
    page.wait_for_selector("#tracking-code")
    code = page.locator("#tracking-code").inner_text().strip()
    case = Case.objects.get(tracking_code=code)
    assert case.node == g1 and round(case.lon, 6) == round(lon, 6) and case.attachments.count() == 1

    # when they open the tracking page
    page.locator(f'a[href="{reverse("cases:track", args=[code])}"]').click()
    page.wait_for_selector(".track-steps")
    # then the first step is done and the second is the current one
    steps = page.locator(".track-step")
    assert steps.count() == 5
    assert "step-done" in steps.nth(0).get_attribute("class")
    assert steps.nth(1).get_attribute("aria-current") == "step"
    assert page.locator(".rating-form").count() == 0

    # given the case is then registered, dispatched, handled and closed
    case = case_transition(case=case, actor=loop.office, action="register", matter="01002")
    case = case_transition(case=case, actor=loop.office, action="dispatch",
                           assignee={"kind": "DEPARTMENT", "department": "water"})
    case = case_transition(case=case, actor=loop.handler, action="accept")
    case = case_transition(case=case, actor=loop.handler, action="report_back")
    case_transition(case=case, actor=loop.office, action="verify_pass")
    # when they come back to the page
    page.reload()
    # then every step is done with its time, and they are asked to rate it
    assert page.locator(".track-step.step-done time").count() == 5
    assert page.locator(".rating-form input[type=radio]").count() == 5
    assert no_horizontal_scroll(page)
    assert_accessible(page)
    page.screenshot(path=SCREENSHOTS / "resident-track.png", full_page=True)

    # when they rate it 4 with a comment, using the keyboard for the score
    page.locator(".rating-form input[value='4']").focus()
    page.keyboard.press("Space")
    page.fill("#id_comment", "修得很快")
    page.click(".rating-form button[type=submit]")
    # then the page thanks them and shows their rating, and the case is evaluated
    page.wait_for_selector(".track-rating .rated")
    assert "4" in page.locator(".rated").inner_text()
    assert page.locator(".messages").count() == 1 and page.locator(".rating-form").count() == 0
    case.refresh_from_db()
    assert (case.state, case.satisfaction) == (CaseState.EVALUATED, 4)
    assert "修得很快" not in page.content()
    assert log.errors == []
