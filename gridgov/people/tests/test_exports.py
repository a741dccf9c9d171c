"""Exports: masked by default, revealed only where the role may (each revealed record logged), large lists
through the background task, files downloadable by their owner only."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from openpyxl import load_workbook

from gridgov.accounts.tests.factories import api_client_for, make_revealing_role, make_staff
from gridgov.people.export_jobs import export_job_create
from gridgov.people.models import DataJob, JobStatus
from gridgov.people.tests.factories import id_number, make_household, make_resident
from gridgov.privacy.models import AccessLog

PURPOSE = "低保复核名单"


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_FILES_DIR = str(tmp_path / "private")


@pytest.fixture
def rows(scheme, tree):
    """Two residents in g1 (a household of two) and one in g2, with known clear values."""
    numbers = [id_number(), id_number()]
    _household, g1 = make_household(scheme, tree["g1"], head_name="周大福", members=1)
    g2 = make_resident(scheme, tree["g2"], name="吴敏", id_number=numbers[1], phone="13655554444",
                       actual_address="北京市平谷区金海湖镇10号院")
    return {"g1": g1, "g2": g2, "g2_number": numbers[1]}


def download(client, job_id) -> bytes:
    response = client.get(f"/api/people/exports/{job_id}/download/")
    assert response.status_code == 200
    return b"".join(response.streaming_content)  # consuming it closes the file


def xlsx_rows(content: bytes) -> list[list]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


def test_export_is_masked_by_default_and_logged(scheme, tree, rows):
    # given a worker of the community
    user = make_staff(tree["community"], perms=["people.view_resident"])
    client = api_client_for(user)
    # when they export the residents of the community as XLSX
    created = client.post("/api/people/exports/", {"record_type": "residents",
                                                   "filters": {"cell": tree["community"].pk, "state": "ACTIVE"}},
                          format="json")
    # then the file is ready, masked, with bilingual headers
    assert created.status_code == 201, created.json()
    job = created.json()
    assert (job["status"], job["total"], job["progress"], job["reveal"]) == ("DONE", 3, 100, False)
    table = xlsx_rows(download(client, job["id"]))
    assert len(table) == 4 and "Name" in table[0][3]
    flat = repr(table)
    for secret in ("周大福", "吴敏", rows["g2_number"], "13655554444", "10号院"):
        assert secret not in flat
    # and one EXPORT entry holds the filters and the row count
    entry = AccessLog.objects.get(user=user)
    assert (entry.kind, entry.rows, entry.node, entry.record_id) == ("EXPORT", 3, tree["community"], None)
    assert entry.detail["filters"] == {"cell": str(tree["community"].pk), "state": "ACTIVE"}


def test_revealed_export_opens_only_the_cells_the_role_may(scheme, tree, rows):
    # given a worker who sees the community but may reveal only in g2
    from gridgov.accounts import services as accounts_services

    user = make_staff(tree["community"], perms=["people.view_resident"])
    accounts_services.assignment_create(person=user.person, node=tree["g2"], role=make_revealing_role(scheme))
    # when they export revealed, as CSV
    job = export_job_create(user=user, scheme=scheme, record_type="residents", filters={}, fmt="csv", reveal=True,
                            purpose=PURPOSE)
    # then g2's row is in clear, g1's rows stay masked, and the summary says so
    content = download(api_client_for(user), job.pk)
    assert content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    by_id = {int(r[0]): r for r in table[1:]}
    assert by_id[rows["g2"].pk][3] == "吴敏" and by_id[rows["g2"].pk][4] == rows["g2_number"]
    assert by_id[rows["g1"][0].pk][3] == "周**"
    assert (job.summary["revealed"], job.summary["masked"]) == (1, 2)
    # and the access log holds one entry for the revealed record and one for the export
    revealed = AccessLog.objects.filter(user=user, record_id__isnull=False)
    assert [(e.kind, e.record_type, e.record_id, e.purpose) for e in revealed] == [
        ("EXPORT_REVEALED", "resident", rows["g2"].pk, PURPOSE)]
    summary = AccessLog.objects.get(user=user, record_id__isnull=True, kind="EXPORT_REVEALED")
    assert (summary.kind, summary.rows, summary.detail["revealed"]) == ("EXPORT_REVEALED", 3, 1)


def test_revealing_needs_a_purpose_and_a_role_that_may(scheme, tree, rows):
    plain = make_staff(tree["community"], perms=["people.view_resident"])
    with pytest.raises(PermissionDenied):
        export_job_create(user=plain, scheme=scheme, record_type="residents", filters={}, fmt="csv", reveal=True,
                          purpose=PURPOSE)
    revealer = make_staff(tree["community"], role=make_revealing_role(scheme), perms=["people.view_resident"])
    with pytest.raises(ValidationError) as err:
        export_job_create(user=revealer, scheme=scheme, record_type="residents", filters={}, fmt="csv", reveal=True)
    assert "purpose" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        export_job_create(user=revealer, scheme=scheme, record_type="residents", filters={"name": "吴敏"}, fmt="csv")
    assert "name" in err.value.message_dict
    assert not DataJob.objects.exists() and not AccessLog.objects.exists()


def test_large_export_runs_as_a_task(scheme, tree, rows, settings, django_capture_on_commit_callbacks):
    # given exports above one row go to the background
    settings.PEOPLE_EXPORT_INLINE_ROWS = 1
    user = make_staff(tree["community"], perms=["people.view_household", "people.view_resident"])
    client = api_client_for(user)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/api/people/exports/", {"record_type": "residents", "scheme": scheme.key,
                                                       "format": "csv"}, format="json")
        # then it is queued first ...
        assert created.json()["status"] == "QUEUED" and created.json()["download"] is None
    # ... and done once the task ran
    job = client.get(f"/api/people/exports/{created.json()['id']}/").json()
    assert (job["status"], job["done"], job["summary"]["rows"]) == ("DONE", 3, 3)
    assert len(download(client, job["id"]).decode("utf-8-sig").splitlines()) == 4
    assert AccessLog.objects.get(user=user).kind == "EXPORT"


def test_only_the_owner_downloads(scheme, tree, rows):
    owner = make_staff(tree["community"], perms=["people.view_household"])
    job = export_job_create(user=owner, scheme=scheme, record_type="households", filters={}, fmt="xlsx")
    assert job.status == JobStatus.DONE
    other = api_client_for(make_staff(tree["community"], perms=["people.view_household"]))
    assert other.get(f"/api/people/exports/{job.pk}/").status_code == 404
    assert other.get(f"/api/people/exports/{job.pk}/download/").status_code == 404
    assert other.get("/api/people/exports/").json()["count"] == 0
    response = api_client_for(owner).get(f"/api/people/exports/{job.pk}/download/")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content).startswith(b"PK")  # a zip: the xlsx


def test_export_needs_the_view_permission_and_other_kinds_work(scheme, tree, rows):
    user = make_staff(tree["community"], perms=["people.view_groupmembership"])
    client = api_client_for(user)
    refused = client.post("/api/people/exports/", {"record_type": "residents", "scheme": scheme.key},
                          format="json")
    assert refused.status_code == 403
    done = client.post("/api/people/exports/", {"record_type": "memberships", "scheme": scheme.key},
                       format="json")
    assert done.status_code == 201 and done.json()["total"] == 0


def test_sheet_titles_excel_refuses_are_cleaned():
    from gridgov.people.exports import sheet_title

    assert sheet_title("居民/实有人口 residents: [all]?") == "居民、实有人口 residents、 、all、、"[:31]


# ------------------------------------------------------------------------ downloads of unmasked files
def test_every_download_of_a_revealed_export_is_logged_and_audited(scheme, tree, rows):
    # given a revealed export of the community, written at once
    from django.test import Client
    from django.urls import reverse

    from gridgov.core.models import AuditEntry

    user = make_staff(tree["community"], role=make_revealing_role(scheme), perms=["people.view_resident"])
    job = export_job_create(user=user, scheme=scheme, record_type="residents", filters={}, fmt="csv", reveal=True,
                            purpose=PURPOSE, remote_addr="10.1.2.3")
    assert job.summary["revealed"] == 3
    page = Client()
    page.force_login(user)
    # when the owner downloads it twice through the API and once from its page
    download(api_client_for(user), job.pk)
    download(api_client_for(user), job.pk)
    response = page.get(reverse("people:export_download", args=[job.pk]))
    assert response.status_code == 200
    b"".join(response.streaming_content)
    # then each download wrote one access-log row and one audit row, naming the job and its clear rows
    logs = AccessLog.objects.filter(user=user, kind="DOWNLOAD").order_by("id")
    assert [(e.rows, e.detail["job"], e.purpose, e.remote_addr) for e in logs] == [(3, job.pk, PURPOSE, "127.0.0.1")] * 3
    audits = AuditEntry.objects.filter(action="people.export_download", actor=user)
    assert audits.count() == 3 and {a.target_id for a in audits} == {str(job.pk)}
    assert all(rows["g2_number"] not in str(a.changes) + a.summary for a in audits)


def test_downloading_a_masked_export_writes_no_download_row(scheme, tree, rows):
    user = make_staff(tree["community"], perms=["people.view_resident"])
    job = export_job_create(user=user, scheme=scheme, record_type="residents", filters={}, fmt="csv")
    download(api_client_for(user), job.pk)
    assert not AccessLog.objects.filter(kind="DOWNLOAD").exists()


# ------------------------------------------------------------------------------ an export that fails
def test_an_export_that_fails_midway_leaves_no_file_and_no_reveal_rows_and_says_so(scheme, tree, rows):
    # given a revealing export whose last record cannot be opened (its sealed ID number is damaged)
    user = make_staff(tree["community"], role=make_revealing_role(scheme), perms=["people.view_resident"])
    last = max((*rows["g1"], rows["g2"]), key=lambda r: r.pk)
    from gridgov.people.models import Resident

    Resident.objects.filter(pk=last.pk).update(id_sealed="v1.damaged.AES.AAAA")
    # when it runs
    job = export_job_create(user=user, scheme=scheme, record_type="residents", filters={}, fmt="csv", reveal=True,
                            purpose=PURPOSE)
    # then it is FAILED, without a file, and its access log says so: no per-record reveal, one FAILED outcome
    assert job.status == JobStatus.FAILED and job.result_path == "" and job.error
    from gridgov.core.files import private_dir

    assert not any(private_dir().glob(f"*{job.pk}*"))
    entries = list(AccessLog.objects.filter(user=user))
    assert [(e.kind, e.record_id, e.rows, e.detail.get("outcome")) for e in entries] == [
        ("EXPORT_REVEALED", None, 0, "FAILED")]
    assert api_client_for(user).get(f"/api/people/exports/{job.pk}/download/").status_code == 404


def test_a_finished_revealed_export_logs_its_rows_with_the_outcome(scheme, tree, rows):
    user = make_staff(tree["community"], role=make_revealing_role(scheme), perms=["people.view_resident"])
    job = export_job_create(user=user, scheme=scheme, record_type="residents", filters={}, fmt="csv", reveal=True,
                            purpose=PURPOSE)
    per_record = AccessLog.objects.filter(user=user, kind="EXPORT_REVEALED", record_id__isnull=False)
    assert job.status == JobStatus.DONE and per_record.count() == 3
    assert {e.detail["outcome"] for e in per_record} == {"DONE"}
    assert AccessLog.objects.get(user=user, record_id__isnull=True).detail["outcome"] == "DONE"
