"""Jobs survive a crash (issue 11, item 10): heartbeats, the sweeper that re-queues a stale import (its
chunks are idempotent upserts) up to PEOPLE_JOB_MAX_ATTEMPTS starts and then fails it, fails a stale export
with its partial file, and the restart of a failed or stalled import by its owner. The crash is real: the
first chunk of an import is committed by the importer itself, then its worker stops."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from gridgov.accounts.tests.factories import make_staff
from gridgov.core.files import private_dir, private_path
from gridgov.people import import_jobs, imports
from gridgov.people.export_jobs import export_job_create
from gridgov.people.models import DataJob, JobKind, JobStatus, Resident
from gridgov.people.sweep import job_is_stale, jobs_sweep
from gridgov.people.tasks import import_job_run_queue
from gridgov.people.tests.factories import id_number, make_resident
from gridgov.privacy.models import AccessLog

ROWS = 5
PERMS = ["people.add_resident", "people.view_resident"]


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_FILES_DIR = str(tmp_path / "private")


class WorkerDied(Exception):
    """What the test's progress callback raises after the first chunk: the worker stops there."""


@pytest.fixture
def owner(tree):
    return make_staff(tree["community"], perms=PERMS)


@pytest.fixture
def job(scheme, owner):
    """A mapped import of five residents of g1."""
    lines = ["姓名,身份证号,所属网格"] + [f"居民{i},{id_number()},一网格" for i in range(ROWS)]
    upload = SimpleUploadedFile("residents.csv", ("\n".join(lines) + "\n").encode())
    job = imports.import_job_create(scheme=scheme, owner=owner, record_type="residents", uploaded_file=upload)
    return imports.import_job_map(job=job, mapping=job.mapping)


def crash_after_first_chunk(job: DataJob, *, attempts: int = 1, minutes_ago: int = 60) -> None:
    """Run the job's import for real until its first chunk (two rows) is committed, then stop as a killed
    worker would: the job stays RUNNING at its progress, its last heartbeat `minutes_ago`."""
    calls = []

    def progress(n: int) -> None:
        calls.append(n)
        raise WorkerDied

    with pytest.raises(WorkerDied):
        imports.file_import(scheme=job.scheme, kind=job.record_type, path=imports._upload_path(job),
                            mapping=job.mapping, actor=job.owner, source=f"import job #{job.pk}", progress=progress,
                            chunk_size=2)
    beat = timezone.now() - dt.timedelta(minutes=minutes_ago)
    DataJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, done=calls[0], attempts=attempts,
                                             started_at=beat, heartbeat_at=beat)
    job.refresh_from_db()


# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
def test_a_killed_import_is_queued_again_and_finishes_without_duplicates(job):
    # given an import whose worker died after its first chunk, an hour ago
    crash_after_first_chunk(job)
    assert Resident.objects.count() == 2 and job.progress == 40 and job_is_stale(job)
    # when the sweeper runs
    counts = jobs_sweep(requeue=import_job_run_queue)
    # then it queued the job again, the run found the first chunk's rows and finished: five residents, once
    job.refresh_from_db()
    assert counts["requeued"] == 1
    assert (job.status, job.done, job.attempts) == (JobStatus.DONE, ROWS, 2)
    assert Resident.objects.count() == ROWS
    assert (job.summary["created"], job.summary["unchanged"]) == (ROWS - 2, 2)
    assert AccessLog.objects.filter(kind="IMPORT", detail__job=job.pk).count() == 1


# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
def test_a_job_that_keeps_dying_is_failed_and_its_owner_restarts_it(tree, job, owner, settings):
    # given an import that has already been started the most times allowed, and died again
    settings.PEOPLE_JOB_MAX_ATTEMPTS = 2
    crash_after_first_chunk(job, attempts=2)
    # when the sweeper runs
    counts = jobs_sweep(requeue=import_job_run_queue)
    job.refresh_from_db()
    # then it gives the job up, saying so
    assert counts["imports_failed"] == 1 and job.status == JobStatus.FAILED
    assert "stopped responding 2 times" in job.error
    # and someone else cannot restart it, while its owner can (API): it finishes with every row once
    other = APIClient()
    other.force_authenticate(make_staff(tree["community"], perms=PERMS))
    assert other.post(f"/api/people/imports/{job.pk}/restart/").status_code == 404
    api = APIClient()
    api.force_authenticate(owner)
    response = api.post(f"/api/people/imports/{job.pk}/restart/")
    assert response.status_code == 202 and response.json()["status"] == "DONE"
    assert Resident.objects.count() == ROWS
    # a done import cannot be restarted
    again = api.post(f"/api/people/imports/{job.pk}/restart/")
    assert again.status_code == 400 and "status" in again.json()


# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
def test_a_stalled_import_is_restarted_from_its_page(job, owner):
    # given an import stalled for an hour, not yet swept
    crash_after_first_chunk(job)
    client = Client()
    client.force_login(owner)
    page = client.get(reverse("people:import", args=[job.pk])).content.decode()
    assert "Start the import again" in page
    # when its owner starts it again
    response = client.post(reverse("people:import_restart", args=[job.pk]))
    # then it runs to the end
    job.refresh_from_db()
    assert response.status_code == 302 and job.status == JobStatus.DONE and Resident.objects.count() == ROWS


def test_a_job_that_beats_is_left_alone(job):
    # given an import that died a minute ago only (its heartbeat is fresh)
    crash_after_first_chunk(job, minutes_ago=1)
    # when the sweeper runs
    counts = jobs_sweep(requeue=import_job_run_queue)
    # then nothing is done to it, and its owner may not start a second run beside it
    job.refresh_from_db()
    assert counts == {"requeued": 0, "imports_failed": 0, "dry_runs_reset": 0, "exports_failed": 0}
    assert job.status == JobStatus.RUNNING and not import_jobs.import_job_restartable(job)
    with pytest.raises(ValidationError):
        import_jobs.import_job_restart(job=job, actor=job.owner)
    with pytest.raises(ValidationError):
        import_jobs.import_job_start(job=job)


def test_a_stale_dry_run_goes_back_to_be_run_again(job, settings):
    settings.PEOPLE_JOB_DRY_RUN_STALE_SECONDS = 60
    beat = timezone.now() - dt.timedelta(minutes=5)
    DataJob.objects.filter(pk=job.pk).update(status=JobStatus.CHECKING, heartbeat_at=beat)
    assert jobs_sweep(requeue=import_job_run_queue)["dry_runs_reset"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.MAPPED and "run it again" in job.error


def test_a_killed_export_is_failed_its_partial_file_removed_and_its_log_says_so(scheme, tree, owner):
    # given a revealing export whose worker died while writing its file, an hour ago
    from gridgov.accounts.tests.factories import make_role

    role = make_role(scheme, key="reveal_worker", levels=("community", "grid"))
    role.reveals_personal_data = True
    role.save()
    user = make_staff(tree["community"], role=role, perms=["people.view_resident"])
    make_resident(scheme, tree["g1"])
    beat = timezone.now() - dt.timedelta(hours=1)
    job = DataJob.objects.create(kind=JobKind.EXPORT, record_type="residents", scheme=scheme, owner=user,
                                 status=JobStatus.RUNNING, started_at=beat, heartbeat_at=beat, attempts=1,
                                 options={"format": "csv", "filters": {}, "reveal": True, "purpose": "低保复核"})
    partial = private_path(job.pk, ".csv", role="export")
    partial.write_text("record id,name\n1,clear name\n", encoding="utf-8")
    DataJob.objects.filter(pk=job.pk).update(result_path=partial.name)
    # when the sweeper runs (through the management command)
    out = StringIO()
    call_command("people_jobs_sweep", stdout=out)
    # then the export is FAILED, no file is left, and one access-log row says it failed with nothing handed over
    job.refresh_from_db()
    assert json.loads(out.getvalue())["exports_failed"] == 1
    assert job.status == JobStatus.FAILED and job.result_path == "" and "abandoned" in job.error
    assert not partial.exists() and not list(private_dir().glob(f"job{job.pk}-export-*"))
    assert [(e.kind, e.rows, e.detail["outcome"]) for e in AccessLog.objects.filter(user=user)] == [
        ("EXPORT_REVEALED", 0, "FAILED")]
    # and a second sweep finds nothing more to do
    assert jobs_sweep(requeue=import_job_run_queue)["exports_failed"] == 0


# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
def test_exports_and_imports_beat_while_they_run(scheme, tree, job, owner):
    before = timezone.now()
    done = import_jobs.import_job_start(job=job)
    export = export_job_create(user=owner, scheme=scheme, record_type="residents", filters={}, fmt="csv")
    assert done.status == JobStatus.DONE and done.heartbeat_at >= before and done.attempts == 1
    assert export.status == JobStatus.DONE and export.heartbeat_at >= before and export.attempts == 1
