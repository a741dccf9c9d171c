"""`manage.py restore ARCHIVE [--force]`: put a backup back, only into an empty database unless --force.

Refused, before anything is written, when the archive was altered, cut off, or made under another data key."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gridgov.manage.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore a backup archive (database and private files) made by `manage.py backup`."

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path)
        parser.add_argument("--force", action="store_true",
                            help="replace a database that holds data (everything in it is lost)")

    def handle(self, *args, archive: Path, force: bool, **options):
        try:
            report = backup_restore(archive=archive, force=force)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restored the {report.vendor} database ({report.rows} rows) and {report.files} private "
                          f"files from the backup made {report.created_at[:19]}")
