"""`manage.py backup [--output PATH]`: the database and the private files in one archive encrypted with the
data key (see `gridgov.manage.backup`). Keep the archive and the data key in different places."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gridgov.manage.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database and the private files (case photos, imports, exports), encrypted with the data key."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", type=Path, help="the archive to write (default: BACKUP_DIR/gridgov-<time>.gridgov-backup)")

    def handle(self, *args, output: Path | None, **options):
        try:
            report = backup_create(output=output)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"backed up the {report.vendor} database ({report.rows} rows) and {report.files} private "
                          f"files to {report.path} ({report.size} bytes, encrypted with the data key)")
