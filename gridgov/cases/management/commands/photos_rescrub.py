"""`manage.py photos_rescrub`: re-encode every stored case photo from its pixels (residual metadata of
photos stored before uploads were re-encoded: IPTC, comments, PNG text chunks, trailing bytes) and
give each its thumbnail. Idempotent; run once after upgrading."""

from __future__ import annotations

from dataclasses import asdict

from django.core.management.base import BaseCommand

from gridgov.cases.attachments import attachments_rescrub


class Command(BaseCommand):
    help = "Re-encode stored case photos from their pixels and make their thumbnails (idempotent)."

    def handle(self, *args, **options):
        report = attachments_rescrub()
        self.stdout.write(", ".join(f"{k} {v}" for k, v in asdict(report).items()))
