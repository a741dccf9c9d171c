"""The import API and pages: upload, mapping, dry run, start, progress, rejected rows; owner only."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from gridgov.accounts.tests.factories import make_staff
from gridgov.people.models import DataJob, Resident
from gridgov.people.tests.factories import id_number


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_FILES_DIR = str(tmp_path / "private")


def _workbook() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "身份证号", "所属网格", "其他"])
    sheet.append(["张三", id_number(), "一网格", ""])
    sheet.append(["李四", "123", "一网格", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("people.xlsx", _workbook())


@pytest.fixture
def importer(tree):
    return make_staff(tree["community"], perms=["people.add_resident"])


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# ------------------------------------------------------------------------------------------------- API
# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
def test_api_import_flow(scheme, tree, importer):
    # given
    client = _api(importer)
    # when uploaded
    answer = client.post("/api/people/imports/", {"scheme": scheme.key, "record_type": "residents",
                                                   "file": _upload()}, format="multipart")
    # then the headers and the suggested mapping come back
    assert answer.status_code == 201, answer.content
    job = answer.json()
    assert job["headers"] == ["姓名", "身份证号", "所属网格", "其他"]
    assert job["mapping"] == {"姓名": "name", "身份证号": "id_number", "所属网格": "cell"}
    assert job["unmapped"] == ["其他"] and job["status"] == "NEW"
    url = f"/api/people/imports/{job['id']}/"
    # a mapping without the ID number is refused
    bad = client.put(f"{url}mapping/", {"mapping": {"姓名": "name"}}, format="json")
    assert bad.status_code == 400 and "ID number" in str(bad.json())
    assert client.post(f"{url}mapping/", {"mapping": job["mapping"]}, format="json").json()["status"] == "MAPPED"
    # dry run, then start
    dry = client.post(f"{url}dry-run/").json()
    assert (dry["status"], dry["summary"]["created"], dry["summary"]["rejected_rows"]) == ("CHECKED", 1, 1)
    assert not Resident.objects.exists()
    done = client.post(f"{url}start/")
    assert done.status_code == 202
    job = client.get(url).json()
    assert (job["status"], job["progress"], job["summary"]["created"]) == ("DONE", 100, 1)
    assert Resident.objects.count() == 1
    download = client.get(job["rejected_url"])
    assert download.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
    assert [sheet.cell(row=2, column=c).value for c in (1, 2)] == [3, "李四"]
    assert "18 characters" in sheet.cell(row=2, column=6).value


# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
def test_api_jobs_are_their_owners(scheme, tree, importer):
    job = _api(importer).post("/api/people/imports/", {"scheme": scheme.key, "record_type": "residents",
                                                        "file": _upload()}, format="multipart").json()
    _api(importer).post(f"/api/people/imports/{job['id']}/mapping/", {"mapping": job["mapping"]}, format="json")
    _api(importer).post(f"/api/people/imports/{job['id']}/dry-run/")
    other = make_staff(tree["community"], perms=["people.add_resident"])
    client = _api(other)
    for method, suffix in (("get", ""), ("get", "rejected/"), ("post", "start/"), ("post", "dry-run/")):
        assert getattr(client, method)(f"/api/people/imports/{job['id']}/{suffix}").status_code == 404
    assert _api(importer).get(f"/api/people/imports/{job['id']}/rejected/").status_code == 200
    assert client.get("/api/people/imports/").json()["count"] == 0


def test_api_upload_needs_the_permission_and_the_scheme_in_scope(scheme, tree):
    from gridgov.territory.tests.factories import make_scheme, make_tree

    nobody = make_staff(tree["community"])
    answer = _api(nobody).post("/api/people/imports/", {"scheme": scheme.key, "record_type": "residents",
                                                         "file": _upload()}, format="multipart")
    assert answer.status_code == 403
    elsewhere = make_scheme()
    outsider = make_staff(make_tree(elsewhere)["community"], perms=["people.add_resident"])
    answer = _api(outsider).post("/api/people/imports/", {"scheme": scheme.key, "record_type": "residents",
                                                           "file": _upload()}, format="multipart")
    assert answer.status_code == 403
    assert not DataJob.objects.exists()


# ----------------------------------------------------------------------------------------------- pages
# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
def test_pages_import_flow(client, scheme, tree, importer):
    # given
    client.force_login(importer)
    # when uploaded through the form
    page = client.get(reverse("people:imports"))
    assert page.status_code == 200 and b'name="file"' in page.content
    answer = client.post(reverse("people:imports"), {"scheme": scheme.key, "record_type": "residents",
                                                     "file": _upload()})
    job = DataJob.objects.get()
    assert answer.status_code == 302 and answer.url == reverse("people:import", args=[job.pk])
    # then the mapping form has a select per header, the suggestion chosen
    page = client.get(answer.url)
    assert page.content.count(b"<select") == 4
    assert b'<option value="id_number" selected>' in page.content
    # a mapping missing the required fields is refused and shown again
    refused = client.post(answer.url, {"field-0": "name", "field-1": "", "field-2": "cell", "field-3": ""})
    assert refused.status_code == 400 and b"map a column to every required field" in refused.content
    assert client.post(answer.url, {"field-0": "name", "field-1": "id_number", "field-2": "cell",
                                    "field-3": ""}).status_code == 302
    # dry run: counts and the first errors
    client.post(reverse("people:import_check", args=[job.pk]))
    page = client.get(answer.url)
    assert b"Dry run" in page.content and b"18 characters" in page.content
    assert not Resident.objects.exists()
    # start: done, with the rejected rows to download
    client.post(reverse("people:import_start", args=[job.pk]))
    progress = client.get(reverse("people:import_progress", args=[job.pk]))
    assert b"hx-get" not in progress.content and b"Done" in progress.content
    page = client.get(answer.url)
    assert reverse("people:import_rejected", args=[job.pk]).encode() in page.content
    assert client.get(reverse("people:import_rejected", args=[job.pk])).status_code == 200
    assert Resident.objects.count() == 1


def test_a_running_job_page_polls_its_progress(client, scheme, tree, importer):
    client.force_login(importer)
    client.post(reverse("people:imports"), {"scheme": scheme.key, "record_type": "residents", "file": _upload()})
    job = DataJob.objects.get()
    DataJob.objects.filter(pk=job.pk).update(status="RUNNING", total=10, done=4)
    page = client.get(reverse("people:import_progress", args=[job.pk]))
    assert b'hx-trigger="every 1s"' in page.content and b'value="40"' in page.content


def test_pages_need_a_login_and_belong_to_the_owner(client, scheme, tree, importer):
    assert client.get(reverse("people:imports")).status_code == 302
    client.force_login(importer)
    client.post(reverse("people:imports"), {"scheme": scheme.key, "record_type": "residents", "file": _upload()})
    job = DataJob.objects.get()
    client.force_login(make_staff(tree["community"], perms=["people.add_resident"]))
    for name in ("people:import", "people:import_progress", "people:import_rejected"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    assert client.post(reverse("people:import_start", args=[job.pk])).status_code == 404
    client.force_login(make_staff(tree["community"]))
    page = client.get(reverse("people:imports"))
    assert b'name="file"' not in page.content and b"You may not import" in page.content
