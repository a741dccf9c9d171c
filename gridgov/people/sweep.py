"""The sweeper of background jobs: a job whose worker died (killed, out of memory, the machine rebooted)
does not stay RUNNING forever.

A job shows it is alive through `DataJob.heartbeat_at`, written when it is queued, when it starts and
after every chunk. A job waiting or running whose heartbeat is older than PEOPLE_JOB_STALE_SECONDS
(a dry run: PEOPLE_JOB_DRY_RUN_STALE_SECONDS, since it is one transaction and beats only when it starts)
is stale, and `jobs_sweep` settles it:
- an import (QUEUED or RUNNING) is queued again while it has had fewer than PEOPLE_JOB_MAX_ATTEMPTS starts
  — its chunks are upserts by natural key, so what the dead run stored is found and left unchanged — and
  FAILED after that, with a message saying so (its owner may still restart it);
- a dry run (CHECKING) goes back to MAPPED, to be run again;
- an export (QUEUED or RUNNING) is FAILED and its partial file removed (`exports.export_fail`, which logs
  the outcome; the per-record reveal rows of an export exist only for a finished file).
Every change is a conditional update on the status and heartbeat read, so a job that beats meanwhile is
left alone. Run by the huey periodic task `tasks.jobs_sweep_task` and by `manage.py people_jobs_sweep`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.people import exports
from gridgov.people.models import DataJob, JobKind, JobStatus

logger = logging.getLogger(__name__)

WAITING_OR_RUNNING = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CHECKING)


def _stale_seconds(status: str) -> int:
    if status == JobStatus.CHECKING:
        return settings.PEOPLE_JOB_DRY_RUN_STALE_SECONDS
    return settings.PEOPLE_JOB_STALE_SECONDS


def _last_sign(job: DataJob) -> dt.datetime:
    return job.heartbeat_at or job.started_at or job.created_at


def job_is_stale(job: DataJob, *, now: dt.datetime | None = None) -> bool:
    """Waiting or running, with no sign of life for longer than its stale limit."""
    if job.status not in WAITING_OR_RUNNING:
        return False
    now = now or timezone.now()
    return _last_sign(job) < now - dt.timedelta(seconds=_stale_seconds(job.status))


def _unchanged(job: DataJob) -> Q:
    """The job still as read: same status, same heartbeat (a beat meanwhile means it is alive)."""
    beat = Q(heartbeat_at__isnull=True) if job.heartbeat_at is None else Q(heartbeat_at=job.heartbeat_at)
    return Q(pk=job.pk, status=job.status) & beat


def jobs_sweep(*, requeue: Callable[[int], None], now: dt.datetime | None = None) -> dict[str, int]:
    """Settle every stale job (see the module); the counts of what was done. `requeue(job_id)` queues an
    import's run again (`tasks.import_job_run_queue`: the tasks call this sweep, so it is handed in)."""
    now = now or timezone.now()
    counts = {"requeued": 0, "imports_failed": 0, "dry_runs_reset": 0, "exports_failed": 0}
    oldest = now - dt.timedelta(seconds=min(settings.PEOPLE_JOB_STALE_SECONDS,
                                            settings.PEOPLE_JOB_DRY_RUN_STALE_SECONDS))
    candidates = DataJob.objects.filter(status__in=WAITING_OR_RUNNING).filter(
        Q(heartbeat_at__lt=oldest) | Q(heartbeat_at__isnull=True)).select_related("owner").order_by("pk")
    for job in candidates:
        if not job_is_stale(job, now=now):
            continue
        if job.kind == JobKind.EXPORT:
            if job.status == JobStatus.CHECKING:
                continue
            exports.export_fail(job=job, error=_("the export stopped responding and was abandoned; export the list "
                                                 "again"))
            counts["exports_failed"] += 1
        elif job.status == JobStatus.CHECKING:
            if DataJob.objects.filter(_unchanged(job)).update(
                    status=JobStatus.MAPPED, error=_("the dry run stopped responding; run it again")):
                counts["dry_runs_reset"] += 1
        elif job.attempts >= settings.PEOPLE_JOB_MAX_ATTEMPTS:
            if DataJob.objects.filter(_unchanged(job)).update(
                    status=JobStatus.FAILED, finished_at=now,
                    error=_("the import stopped responding %(n)d times and was given up; rows of the chunks "
                            "finished before are stored: start it again once the cause is fixed")
                    % {"n": job.attempts}):
                counts["imports_failed"] += 1
        elif DataJob.objects.filter(_unchanged(job)).update(status=JobStatus.QUEUED, heartbeat_at=now):
            counts["requeued"] += 1
            logger.warning("import job %s stopped responding (start %d); queued again", job.pk, job.attempts)
            requeue(job.pk)
    return counts
