"""Background work of base data: spreadsheet imports (dry runs and real runs), list exports, the daily
removal of expired private files and the five-minute sweep of jobs whose worker died. Tasks take ids,
load the job and call one service; they are idempotent (a job that is not in the state a task expects is
left alone). Work is queued through the `*_queue` functions here, which wait for the transaction to
commit: a rolled-back request queues nothing, and a worker never reads a job before it is stored."""

from __future__ import annotations

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from gridgov.core import files
from gridgov.people import exports, imports, sweep
from gridgov.people.models import DataJob, JobKind, JobStatus


@db_task()
def import_job_dry_run_task(job_id: int) -> None:
    job = DataJob.objects.filter(pk=job_id, kind=JobKind.IMPORT, status=JobStatus.CHECKING).first()
    if job is not None:
        imports.import_job_dry_run(job=job)


@db_task()
def import_job_run_task(job_id: int) -> None:
    job = DataJob.objects.filter(pk=job_id, kind=JobKind.IMPORT).first()
    if job is not None:
        imports.import_job_run(job=job)


@db_task()
def export_run_task(job_id: int) -> None:
    """Background export (a job already started or finished is left alone)."""
    job = DataJob.objects.select_related("owner", "scheme").filter(
        pk=job_id, kind=JobKind.EXPORT, status=JobStatus.QUEUED).first()
    if job is not None:
        exports.export_produce(job)


@db_periodic_task(crontab(hour="3", minute="17"))
def private_files_purge_task() -> int:
    return files.private_files_purge()


@db_periodic_task(crontab(minute="*/5"))
def jobs_sweep_task() -> dict[str, int]:
    """Every five minutes: re-queue or fail the jobs whose worker died (`sweep.jobs_sweep`)."""
    return sweep.jobs_sweep(requeue=import_job_run_queue)


def import_job_dry_run_queue(job_id: int) -> None:
    transaction.on_commit(lambda: import_job_dry_run_task(job_id))


def import_job_run_queue(job_id: int) -> None:
    transaction.on_commit(lambda: import_job_run_task(job_id))


def export_run_queue(job_id: int) -> None:
    transaction.on_commit(lambda: export_run_task(job_id))
