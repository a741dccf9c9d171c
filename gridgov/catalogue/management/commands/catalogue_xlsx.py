"""`manage.py catalogue_xlsx export KEY FILE` writes a matter catalogue as a workbook;
`manage.py catalogue_xlsx import KEY FILE [--dry-run]` loads one (all or nothing)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gridgov.catalogue.models import Catalogue
from gridgov.catalogue.xlsx import catalogue_export_xlsx, catalogue_import_xlsx


class Command(BaseCommand):
    help = "Export a matter catalogue to XLSX, or import one from XLSX (categories, matters, stages)"

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export", "import"])
        parser.add_argument("key", help="the catalogue's key (default: the shipped one)")
        parser.add_argument("file", help="the .xlsx file to write or read")
        parser.add_argument("--dry-run", action="store_true", help="import: check and count, write nothing")
        parser.add_argument("--name", default="", help="import: the name of a new catalogue (default: its key)")

    def handle(self, *args, action: str, key: str, file: str, dry_run: bool, name: str, **options):
        path = Path(file)
        if action == "export":
            catalogue = Catalogue.objects.filter(key=key).first()
            if catalogue is None:
                raise CommandError(f"no catalogue {key!r}; known: {', '.join(Catalogue.objects.values_list('key', flat=True))}")
            try:
                path.write_bytes(catalogue_export_xlsx(catalogue=catalogue))
            except OSError as exc:
                raise CommandError(f"{file}: {exc}") from None
            self.stdout.write(f"catalogue {key}: {catalogue.matters.count()} matters written to {file}")
            return
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            report = catalogue_import_xlsx(key=key, file=path, dry_run=dry_run, name_zh=name)
        except ValidationError as exc:
            raise CommandError("\n".join(m for ms in exc.message_dict.values() for m in ms)) from None
        prefix = "dry run, nothing written: " if dry_run else ""
        self.stdout.write(f"{prefix}catalogue {key}: {report.categories} categories, {report.created} matters "
                          f"created, {report.updated} updated, {report.unchanged} unchanged")
