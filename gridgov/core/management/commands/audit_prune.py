"""`manage.py audit_prune`: the retention job by hand (the huey task runs it daily)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from gridgov.core.audit import audit_prune, audit_retention_days


class Command(BaseCommand):
    help = "Delete audit rows older than AUDIT_RETENTION_DAYS (at least 180), keeping the chain verifiable."

    def handle(self, *args, **options):
        try:
            days = audit_retention_days()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        count = audit_prune()
        self.stdout.write(f"audit log: {count} rows older than {days} days pruned")
