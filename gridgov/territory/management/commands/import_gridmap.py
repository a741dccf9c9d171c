"""manage.py import_gridmap FILE --scheme KEY: import grid polygons and print the validation report."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gridgov.territory import gridmaps
from gridgov.territory.models import LevelScheme


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {m}" for field, messages in exc.message_dict.items() for m in messages)
    return "; ".join(exc.messages)


class Command(BaseCommand):
    help = ("Import grid / micro-grid / unit polygons from GeoJSON or a Shapefile (.shp or .zip) and print the "
            "validation report. Per row by default: good rows are kept, rejected rows are listed with their "
            "reasons. Exits with status 1 when any row was rejected.")

    def add_arguments(self, parser):
        parser.add_argument("file", help=".geojson / .json, .shp (with .dbf, .prj beside it) or .zip")
        parser.add_argument("--scheme", required=True, help="level scheme key")
        parser.add_argument("--level", help="level (key or name) of rows that do not name one")
        parser.add_argument("--all-or-nothing", action="store_true",
                            help="write nothing unless every row can be imported")
        parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
        parser.add_argument("--report", help="also write the report to this file (.md, or .json for JSON)")
        parser.add_argument("--reason", default="", help="reason recorded in the history of each node")
        parser.add_argument("--map", action="append", default=[], metavar="FIELD=PROPERTY",
                            help="property holding a field, e.g. --map name=GRID_NAME (repeatable)")

    def handle(self, *args, **options):
        scheme = LevelScheme.objects.filter(key=options["scheme"]).first()
        if scheme is None:
            raise CommandError(f"scheme: no level scheme with key {options['scheme']!r}")
        property_map = {}
        for item in options["map"]:
            field, sep, prop = item.partition("=")
            if not sep or not field or not prop:
                raise CommandError(f"--map: expected FIELD=PROPERTY, got {item!r}")
            property_map[field.strip()] = prop.strip()
        path = Path(options["file"])
        try:
            rows = gridmaps.gridmap_read(path_or_file=path)
            report = gridmaps.gridmap_import(
                scheme=scheme, rows=rows, level=options["level"] or None, property_map=property_map,
                mode=gridmaps.ImportMode.ALL_OR_NOTHING if options["all_or_nothing"] else gridmaps.ImportMode.PER_ROW,
                dry_run=options["dry_run"], reason=options["reason"], source=path.name,
            )
        except gridmaps.GridMapError as exc:
            raise CommandError(f"file: {exc}") from exc
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from exc
        text = report.to_markdown()
        self.stdout.write(text)
        if options["report"]:
            target = Path(options["report"])
            body = (json.dumps(report.to_dict(), ensure_ascii=False, indent=2)
                    if target.suffix.lower() == ".json" else text)
            target.write_text(body, encoding="utf-8")
        if report.has_rejections:
            raise CommandError(f"{report.counts['rejected']} of {len(report.rows)} rows rejected"
                               + ("" if report.committed else "; nothing was written"))
