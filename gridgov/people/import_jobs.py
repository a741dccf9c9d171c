"""The life of an import job as its owner drives it: check (a dry run), start, restart. Each queues its
run on `tasks`, once the transaction commits (a rolled-back request queues nothing); the runs themselves
are in `imports`."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.people import tasks
from gridgov.people.models import DataJob, JobKind, JobStatus
from gridgov.people.sweep import job_is_stale

logger = logging.getLogger("gridgov.people.imports")


def import_job_check(*, job: DataJob) -> DataJob:
    """Queue a dry run of the mapped job, once the transaction commits."""
    if job.status not in (JobStatus.MAPPED, JobStatus.CHECKED):
        raise ValidationError({"status": _("map the columns first")})
    job.status = JobStatus.CHECKING
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["status", "heartbeat_at"])
    tasks.import_job_dry_run_queue(job.pk)
    job.refresh_from_db()  # as stored now: a run outside a transaction (or run immediately) has happened
    return job


def import_job_start(*, job: DataJob) -> DataJob:
    """Queue the real run of a mapped (and possibly checked) job, once the transaction commits."""
    if job.status not in (JobStatus.MAPPED, JobStatus.CHECKED):
        raise ValidationError({"status": _("map the columns first")})
    job.status = JobStatus.QUEUED
    job.done = 0
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["status", "done", "heartbeat_at"])
    return _enqueue_run(job)


def _enqueue_run(job: DataJob) -> DataJob:
    tasks.import_job_run_queue(job.pk)
    job.refresh_from_db()
    return job


def import_job_restartable(job: DataJob, *, now=None) -> bool:
    """A failed real run, or one that stopped giving signs of life (`sweep.job_is_stale`), can be started
    again by its owner: its chunks are upserts by natural key, so rows stored before the stop are found
    and left unchanged, not duplicated."""
    if job.kind != JobKind.IMPORT:
        return False
    if job.status == JobStatus.FAILED:
        return bool(job.mapping)
    return job.status in (JobStatus.QUEUED, JobStatus.RUNNING) and job_is_stale(job, now=now)


def import_job_restart(*, job: DataJob, actor) -> DataJob:
    """Start a failed or stale real run again (see `import_job_restartable`), with a fresh count of
    attempts; the run goes through the same claim as a first start, so a second click does nothing."""
    if not import_job_restartable(job):
        raise ValidationError({"status": _("only a failed import, or one that stopped responding, can be started "
                                           "again (it is %(s)s)") % {"s": job.get_status_display()}})
    restarted = DataJob.objects.filter(pk=job.pk, status=job.status).update(
        status=JobStatus.QUEUED, done=0, error="", finished_at=None, heartbeat_at=timezone.now(), attempts=0)
    if not restarted:
        raise ValidationError({"status": _("the import changed meanwhile: reload the page")})
    logger.info("import job %s restarted by user %s", job.pk, getattr(actor, "pk", None))
    return _enqueue_run(job)
