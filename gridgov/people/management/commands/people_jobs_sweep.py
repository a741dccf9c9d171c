"""Settle stale import and export jobs now: `manage.py people_jobs_sweep` (the huey task
`jobs_sweep_task` does the same every five minutes). See gridgov/people/sweep.py."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from gridgov.people.sweep import jobs_sweep
from gridgov.people.tasks import import_job_run_queue


class Command(BaseCommand):
    help = "Re-queue stale imports (up to PEOPLE_JOB_MAX_ATTEMPTS starts, then fail them) and fail stale exports."

    def handle(self, *args, **options):
        counts = jobs_sweep(requeue=import_job_run_queue)
        self.stdout.write(json.dumps(counts, sort_keys=True))
