"""`manage.py audit_verify`: recompute the audit log's hash chain and name every altered, removed or
inserted row. Exit status 1 when anything is wrong (for cron / monitoring)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from gridgov.core.audit import audit_verify
from gridgov.core.models import AuditChainHead


class Command(BaseCommand):
    help = "Verify the security audit log's hash chain; name every altered or removed row."

    def handle(self, *args, **options):
        problems = list(audit_verify())
        for problem in problems:
            self.stderr.write(str(problem))
        if problems:
            raise CommandError(f"audit log: {len(problems)} problem(s) found")
        head = AuditChainHead.objects.filter(pk=1).first()
        self.stdout.write(f"audit log intact: {head.seq if head else 0} rows chained, head "
                          f"{head.hash if head else '-'}")
