"""Import base data from a spreadsheet: `manage.py import_people <scheme> <kind> <file.xlsx|csv>`.

Columns are mapped from their headers (Chinese or English names, see `imports.SYNONYMS`); `--map
'header=field'` overrides one (`--map 'header='` ignores the column). `--dry-run` reports without
keeping anything. `--rejected out.xlsx` (or .csv) writes the rejected rows with their reasons. With
`--user`, an access-log entry records the import under that login."""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from gridgov.people import imports
from gridgov.people.bulk import KINDS
from gridgov.privacy.access import access_log_write
from gridgov.privacy.models import AccessKind
from gridgov.territory.models import LevelScheme


class Command(BaseCommand):
    help = "Import houses, residents, units, memberships, party members or volunteers from an XLSX or CSV file."

    def add_arguments(self, parser):
        parser.add_argument("scheme", help="key of the level scheme")
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check and count, keep nothing")
        parser.add_argument("--map", action="append", default=[], metavar="HEADER=FIELD", dest="mappings",
                            help="map a column to a field (empty field: ignore the column); repeatable")
        parser.add_argument("--rejected", type=Path, help="write the rejected rows to this .xlsx or .csv file")
        parser.add_argument("--user", help="username the import is logged under")
        parser.add_argument("--chunk-size", type=int, default=None)

    def handle(self, *args, scheme, kind, file, dry_run, mappings, rejected, user, chunk_size, **options):
        scheme_obj = LevelScheme.objects.filter(key=scheme).first()
        if scheme_obj is None:
            raise CommandError(f"no level scheme {scheme!r}")
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"no user {user!r}")
        if not file.is_file():
            raise CommandError(f"no file {file}")
        try:
            with imports.table_read(file) as table:
                headers, total = table.headers, table.total
        except imports.ImportFileError as exc:
            raise CommandError(str(exc)) from None
        mapping: dict[str, str | None] = dict(imports.mapping_suggest(headers, kind))
        for item in mappings:
            header, sep, name = item.partition("=")
            if not sep:
                raise CommandError(f"--map takes HEADER=FIELD, not {item!r}")
            mapping[header.strip()] = name.strip() or None
        try:
            mapping = imports.mapping_clean(kind=kind, headers=headers, mapping=mapping)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        for header in headers:
            self.stdout.write(f"  {header} → {mapping.get(header, '(ignored)')}")
        with tqdm(total=total, unit="rows", desc=kind, file=self.stderr) as bar:
            report = imports.file_import(scheme=scheme_obj, kind=kind, path=file, mapping=mapping, actor=actor,
                                         source=f"command {file.name}"[:60], dry_run=dry_run, progress=bar.update,
                                         chunk_size=chunk_size)
        if rejected and report.rejected_rows:
            written = imports.rejected_file_write(source=file, report=report, target=rejected)
            self.stdout.write(f"{written} rejected rows written to {rejected}")
        if actor is not None and not dry_run:
            access_log_write(user=actor, kind=AccessKind.IMPORT, purpose=f"command import {file.name}"[:300],
                             rows=report.rows, fields=list(mapping.values()),
                             detail={"record_type": kind, "created": report.created, "updated": report.updated,
                                     "unchanged": report.unchanged, "rejected_rows": report.rejected_rows})
        summary = report.as_dict()
        summary["errors"] = summary["errors"][:20]
        self.stdout.write(json.dumps({**summary, "dry_run": dry_run}, ensure_ascii=False, indent=2))
