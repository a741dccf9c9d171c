"""/api/catalogue/: catalogues, categories and matters with their filters; XLSX export and import; duty
lists now and as of a version; admission requests scoped, applied, decided and withdrawn (400 / 403 / 404)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from gridgov.accounts.tests.factories import api_client_for, make_staff
from gridgov.catalogue.admission import admission_apply, admission_decide
from gridgov.catalogue.models import AdmissionState, Catalogue, Matter
from gridgov.catalogue.tests.factories import make_catalogue, make_department, make_duty_list, make_user
from gridgov.catalogue.xlsx import CONTENT_TYPE, catalogue_export_xlsx
from gridgov.territory.tests.factories import make_scheme

pytestmark = pytest.mark.django_db
API = "/api/catalogue"


@pytest.fixture
def catalogue(db):
    return make_catalogue()


@pytest.fixture
def office(db):
    return make_user(perms=("catalogue.change_dutylist", "catalogue.add_admissionrequest"))


def matter(code: str) -> Matter:
    return Matter.objects.get(catalogue__key="default", code=code)


# --------------------------------------------------------------------------- catalogue
def test_catalogues_categories_and_matters_with_filters(catalogue):
    client = api_client_for(make_user())
    assert client.get(f"{API}/catalogues/").json() == [
        {"id": catalogue.pk, "key": "default", "name_zh": "测试事项清单", "name_en": "", "version": 1,
         "updated_at": client.get(f"{API}/catalogues/").json()[0]["updated_at"], "matters": 4}]
    assert [c["code"] for c in client.get(f"{API}/categories/", {"catalogue": "default"}).json()] == ["07", "11", "14"]

    def matter_codes(**params):
        res = client.get(f"{API}/matters/", params)
        assert res.status_code == 200, res.json()
        return [m["code"] for m in res.json()["results"]]

    assert matter_codes() == ["07002", "07008", "11002", "14001"]
    assert matter_codes(category="07") == ["07002", "07008"]
    assert matter_codes(duty_tier="COMMUNITY") == ["14001"]
    assert matter_codes(report_level="URGENT") == ["11002"]
    assert matter_codes(search="水管") == ["11002"]
    assert matter_codes(search="1100") == ["11002"]
    assert matter_codes(search="graffiti") == ["07008"]
    Matter.objects.filter(code="07008").update(active=False)
    assert matter_codes(active="false") == ["07008"]
    assert client.get(f"{API}/matters/", {"duty_tier": "STREET"}).status_code == 400


def test_a_matter_detail_has_its_stages_and_attributes(catalogue):
    body = api_client_for(make_user()).get(f"{API}/matters/{matter('11002').pk}/").json()
    assert (body["category"], body["department"], body["evidence_before"]) == ("11", "区水务局", True)
    assert [(s["order"], s["name_zh"], s["amount"], s["unit"]) for s in body["stages"]] == [
        (1, "围挡警示", "3.00", "CLOCK_HOURS"), (2, "抢修", "8.00", "CLOCK_HOURS"), (3, "恢复路面", "5.00", "WORKING_DAYS")]
    assert body["attributes"][0]["code"] == "flow" and body["attributes"][0]["values"][1]["key"] == "gush"


def test_the_catalogue_api_needs_a_login(catalogue):
    for url in (f"{API}/matters/", f"{API}/catalogues/default/export.xlsx", f"{API}/admission-requests/"):
        assert APIClient().get(url).status_code in (401, 403)


def test_export_gives_the_workbook(catalogue):
    client = api_client_for(make_user())
    res = client.get(f"{API}/catalogues/default/export.xlsx")
    assert res.status_code == 200 and res["Content-Type"] == CONTENT_TYPE
    assert 'filename="catalogue-default-v1.xlsx"' in res["Content-Disposition"]
    book = load_workbook(io.BytesIO(res.content))
    assert book.worksheets[1].max_row == 2 + 4
    assert client.get(f"{API}/catalogues/nope/export.xlsx").status_code == 404


def test_import_needs_the_permission_and_answers_the_report(catalogue):
    body = catalogue_export_xlsx(catalogue=catalogue)

    def upload(user, **extra):
        file = io.BytesIO(body)
        file.name = "catalogue.xlsx"
        return api_client_for(user).post(f"{API}/catalogues/import/", {"key": "copy", "file": file, **extra},
                                     format="multipart")

    assert upload(make_user()).status_code == 403
    editor = make_user(perms=("catalogue.change_catalogue",))
    dry = upload(editor, dry_run="true")
    assert dry.status_code == 200, dry.json()
    assert (dry.json()["dry_run"], dry.json()["created"]) == (True, 4)
    assert not Catalogue.objects.filter(key="copy").exists()
    done = upload(editor, name_zh="副本")
    assert done.status_code == 200 and done.json()["created"] == 4
    assert Catalogue.objects.get(key="copy").name_zh == "副本"
    bad = io.BytesIO(b"not a workbook")
    bad.name = "catalogue.xlsx"
    res = api_client_for(editor).post(f"{API}/catalogues/import/", {"key": "copy", "file": bad}, format="multipart")
    assert res.status_code == 400 and "not an XLSX workbook" in res.json()["file"][0]
    res = api_client_for(editor).post(f"{API}/catalogues/import/", {"key": "copy"}, format="multipart")
    assert res.status_code == 400 and "file" in res.json()


# --------------------------------------------------------------------------- duty lists
def test_duty_lists_now_and_as_of_a_version(scheme, catalogue, office):
    # given: 07002 added (v1), 07008 added (v2)
    duty_list = make_duty_list(scheme)
    for code in ("07002", "07008"):
        request = admission_apply(actor=office, duty_list=duty_list, matter=matter(code), reason="请纳入")
        admission_decide(actor=office, request=request, approve=True)
    client = api_client_for(make_user())
    # then
    listed = client.get(f"{API}/duty-lists/", {"scheme": scheme.key}).json()
    assert [(d["key"], d["version"], d["current_entries"]) for d in listed] == [("grid", 2, 2)]
    now = client.get(f"{API}/duty-lists/{duty_list.pk}/").json()
    assert now["as_of_version"] == 2 and [e["matter_code"] for e in now["entries"]] == ["07002", "07008"]
    then = client.get(f"{API}/duty-lists/{duty_list.pk}/", {"version": 1}).json()
    assert then["as_of_version"] == 1 and [e["matter_code"] for e in then["entries"]] == ["07002"]
    bad = client.get(f"{API}/duty-lists/{duty_list.pk}/", {"version": 9})
    assert bad.status_code == 400 and "version" in bad.json()


# --------------------------------------------------------------------------- admission requests
def test_apply_decide_and_withdraw_through_the_api(tree, catalogue, office):
    # given
    scheme = tree["g1"].scheme
    duty_list = make_duty_list(scheme)
    member = make_user()
    department = make_department(scheme, members=[member])
    client = api_client_for(member)
    # when: the department applies
    res = client.post(f"{API}/admission-requests/", {"duty_list": duty_list.pk, "matter": matter("07002").pk,
                                                     "department": department.pk, "reason": "网格员可现场处置"},
                      format="json")
    # then
    assert res.status_code == 201, res.json()
    created = res.json()
    assert (created["state"], created["change"], created["department_key"], created["applied_by"]) == (
        "PENDING", "ADD", "water", member.username)
    # the department may not decide; the district grid office approves (a decider with no territory does not
    # even see the request)
    decide = f"{API}/admission-requests/{created['id']}/decide/"
    assert client.post(decide, {"approve": True}, format="json").status_code == 403
    assert api_client_for(office).post(decide, {"approve": True}, format="json").status_code == 404
    district_office = api_client_for(make_staff(tree["district"], perms=("catalogue.change_dutylist",)))
    res = district_office.post(decide, {"approve": True}, format="json")
    assert res.status_code == 200 and (res.json()["state"], res.json()["list_version"]) == ("APPROVED", 1)
    assert district_office.post(decide, {"approve": True}, format="json").status_code == 400
    # another one is withdrawn by the applicant
    res = client.post(f"{API}/admission-requests/", {"duty_list": duty_list.pk, "matter": matter("07008").pk,
                                                     "department": department.pk, "reason": "请纳入"}, format="json")
    withdraw = f"{API}/admission-requests/{res.json()['id']}/withdraw/"
    assert client.post(withdraw).json()["state"] == AdmissionState.WITHDRAWN


@pytest.mark.parametrize(("payload", "field"), [
    ({"reason": " "}, "reason"),
    ({"change": "REMOVE"}, "matter"),
    ({"change": "SWAP"}, "change"),
    ({"matter": 999999}, "matter"),
    ({"duty_list": None}, "duty_list"),
])
def test_bad_applications_are_400_naming_the_field(scheme, catalogue, office, payload, field):
    duty_list = make_duty_list(scheme)
    body = {"duty_list": duty_list.pk, "matter": matter("07002").pk, "reason": "请纳入", **payload}
    res = api_client_for(office).post(f"{API}/admission-requests/", body, format="json")
    assert res.status_code == 400 and field in res.json(), res.json()


def test_applying_without_right_is_403_and_rejecting_without_reason_400(scheme, catalogue, office):
    duty_list = make_duty_list(scheme)
    body = {"duty_list": duty_list.pk, "matter": matter("07002").pk, "reason": "请纳入"}
    assert api_client_for(make_user()).post(f"{API}/admission-requests/", body, format="json").status_code == 403
    created = api_client_for(office).post(f"{API}/admission-requests/", body, format="json").json()
    res = api_client_for(office).post(f"{API}/admission-requests/{created['id']}/decide/", {"approve": False},
                                  format="json")
    assert res.status_code == 400 and "reason" in res.json()
    assert api_client_for(office).post(f"{API}/admission-requests/{created['id']}/decide/", {}, format="json").json() == {
        "approve": ["This field is required."]}


def test_requests_outside_the_scope_are_404(tree, catalogue, office):
    # given: one request on the tree's scheme, one on another scheme
    here = make_duty_list(tree["g1"].scheme)
    there = make_duty_list(make_scheme(), "grid2")
    mine = admission_apply(actor=office, duty_list=here, matter=matter("07002"), reason="请纳入")
    other = admission_apply(actor=office, duty_list=there, matter=matter("07002"), reason="请纳入")
    staff = api_client_for(make_staff(tree["g1"], perms=("catalogue.change_dutylist",)))
    # then
    listed = staff.get(f"{API}/admission-requests/").json()["results"]
    assert [r["id"] for r in listed] == [mine.pk]
    assert staff.get(f"{API}/admission-requests/{other.pk}/").status_code == 404
    assert staff.post(f"{API}/admission-requests/{other.pk}/decide/", {"approve": True},
                      format="json").status_code == 404
    assert staff.post(f"{API}/admission-requests/{mine.pk}/decide/", {"approve": True},
                      format="json").status_code == 200
    assert api_client_for(make_user()).get(f"{API}/admission-requests/").json()["results"] == []
    assert [r["id"] for r in api_client_for(office).get(f"{API}/admission-requests/", {"state": "PENDING"})
            .json()["results"]] == [other.pk]


def test_an_absurd_duty_list_id_is_a_400_not_a_database_error(client, django_user_model):
    # given a district-wide user
    user = django_user_model.objects.create_user("wide", password="x", sees_everything=True)
    client.force_login(user)
    # when the filter gets an id beyond a 64-bit integer
    res = client.get("/api/catalogue/admission-requests/", {"duty_list": str(2**70)})
    # then it says so
    assert res.status_code == 400
    assert "duty_list" in res.json()
