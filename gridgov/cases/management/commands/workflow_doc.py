"""`manage.py workflow_doc` writes docs/workflow.md from the transition table."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation

from gridgov.cases.transitions import markdown


class Command(BaseCommand):
    help = "Write docs/workflow.md (diagram and table of the case workflow) from the code"

    def handle(self, *args, **options):
        path = Path(settings.BASE_DIR) / "docs" / "workflow.md"
        with translation.override("en"):
            path.write_text(markdown(), encoding="utf-8")
        self.stdout.write(f"wrote {path}")
