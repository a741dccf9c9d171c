"""Admin of duty lists (entries read-only), admission requests (decided by actions through the service),
departments and teams."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.test import Client

from gridgov.accounts.models import Department, Team
from gridgov.catalogue.admission import admission_apply, admission_decide
from gridgov.catalogue.models import AdmissionRequest, AdmissionState, DutyList, Matter
from gridgov.catalogue.tests.factories import make_catalogue, make_department, make_duty_list, make_user
from gridgov.core.models import AuditEntry
from gridgov.territory.tests.factories import make_scheme, make_tree

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", password="Root-pass-2026!")


@pytest.fixture
def browser(root) -> Client:
    client = Client()
    client.force_login(root)
    return client


def test_the_pages_open(browser, scheme, root):
    make_catalogue()
    duty_list = make_duty_list(scheme)
    request = admission_apply(actor=root, duty_list=duty_list, matter=Matter.objects.get(code="07002"), reason="请纳入")
    admission_decide(actor=root, request=request, approve=True)
    department = make_department(scheme)
    for url in ("/admin/catalogue/dutylist/", f"/admin/catalogue/dutylist/{duty_list.pk}/change/",
                "/admin/catalogue/dutylist/add/", "/admin/catalogue/admissionrequest/",
                f"/admin/catalogue/admissionrequest/{request.pk}/change/", "/admin/accounts/department/",
                f"/admin/accounts/department/{department.pk}/change/", "/admin/accounts/department/add/",
                "/admin/accounts/team/", f"/admin/accounts/team/{department.teams.get().pk}/change/"):
        assert browser.get(url).status_code == 200, url
    page = browser.get(f"/admin/catalogue/dutylist/{duty_list.pk}/change/").content.decode()
    assert "07002" in page and 'name="entries-0-matter"' not in page  # entries shown, not editable


def test_a_duty_list_is_added_through_the_service(browser, scheme):
    res = browser.post("/admin/catalogue/dutylist/add/", {
        "scheme": scheme.pk, "key": "community", "name_zh": "村(社区)办理事项清单", "name_en": "", "duty_tier": "COMMUNITY",
        "admits_to_grid": "on", "order": 2})
    assert res.status_code == 302
    created = DutyList.objects.get(key="community")
    assert (created.version, created.admits_to_grid) == (0, True)
    assert AuditEntry.objects.filter(action="catalogue.duty_list_create", target_id=str(created.pk)).exists()
    res = browser.post("/admin/catalogue/dutylist/add/", {
        "scheme": scheme.pk, "key": "community", "name_zh": "重复", "duty_tier": "COMMUNITY", "order": 3})
    assert res.status_code == 200 and "already has a duty list" in res.content.decode()


def test_requests_are_decided_by_the_admin_actions(browser, scheme, root):
    # given
    make_catalogue()
    duty_list = make_duty_list(scheme)
    first, second = (admission_apply(actor=root, duty_list=duty_list, matter=Matter.objects.get(code=code),
                                     reason="请纳入") for code in ("07002", "07008"))
    url = "/admin/catalogue/admissionrequest/"
    # when: the rejection form asks for a reason, and the service refuses an empty one
    page = browser.post(url, {"action": "reject", ACTION_CHECKBOX_NAME: [first.pk]})
    assert page.status_code == 200 and "reason" in page.content.decode()
    browser.post(url, {"action": "reject", ACTION_CHECKBOX_NAME: [first.pk], "apply": "1", "reason": ""})
    first.refresh_from_db()
    assert first.state == AdmissionState.PENDING
    browser.post(url, {"action": "reject", ACTION_CHECKBOX_NAME: [first.pk], "apply": "1", "reason": "需执法"})
    browser.post(url, {"action": "approve", ACTION_CHECKBOX_NAME: [second.pk], "apply": "1", "reason": ""})
    # then
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.decision_reason) == (AdmissionState.REJECTED, "需执法")
    assert (second.state, second.list_version) == (AdmissionState.APPROVED, 1)


def test_the_decision_actions_are_only_for_the_grid_office(scheme):
    # given: an applicant who sees their own request
    make_catalogue()
    applicant = make_user(perms=("catalogue.view_admissionrequest", "catalogue.add_admissionrequest"))
    admission_apply(actor=applicant, duty_list=make_duty_list(scheme), matter=Matter.objects.get(code="07002"),
                    reason="请纳入")
    client = Client()
    client.force_login(applicant)
    # then
    page = client.get("/admin/catalogue/admissionrequest/").content.decode()
    assert "07002" in page and 'value="approve"' not in page
    client.force_login(make_user(perms=("catalogue.view_admissionrequest", "catalogue.change_dutylist"),
                                 sees_everything=True))
    assert 'value="approve"' in client.get("/admin/catalogue/admissionrequest/").content.decode()
    assert AdmissionRequest.objects.get().state == AdmissionState.PENDING


def test_a_team_covers_cells_of_its_departments_scheme_only(browser, scheme):
    tree = make_tree(scheme)
    department = make_department(scheme)
    other = make_tree(make_scheme(), origin=(117.0, 40.0))
    url = f"/admin/accounts/team/{department.teams.get().pk}/change/"
    data = {"department": department.pk, "name": "城区组", "phone": "", "areas": [tree["g1"].pk, other["g1"].pk]}
    res = browser.post(url, data)
    assert res.status_code == 200 and "are not cells of the department" in res.content.decode()
    res = browser.post(url, {**data, "areas": [tree["g1"].pk]})
    assert res.status_code == 302
    assert list(Team.objects.get(department=department).areas.all()) == [tree["g1"]]
    assert Department.objects.get(pk=department.pk).teams.count() == 1
