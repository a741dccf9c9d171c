"""manage.py export_gridmap --scheme KEY: the territory's polygons as a re-importable GeoJSON file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gridgov.territory import gridmaps
from gridgov.territory.models import IssuedCode, LevelScheme


class Command(BaseCommand):
    help = "Export the nodes of a scheme (or a subtree, some levels, as of a date) as a GeoJSON FeatureCollection."

    def add_arguments(self, parser):
        parser.add_argument("--scheme", required=True, help="level scheme key")
        parser.add_argument("--root", help="code of the subtree's root (any code the node has ever had)")
        parser.add_argument("--level", action="append", default=[], help="level key or name (repeatable)")
        parser.add_argument("--as-of", help="the tree as it stood on this date (YYYY-MM-DD)")
        parser.add_argument("-o", "--output", help="file to write (default: standard output)")

    def handle(self, *args, **options):
        scheme = LevelScheme.objects.filter(key=options["scheme"]).first()
        if scheme is None:
            raise CommandError(f"scheme: no level scheme with key {options['scheme']!r}")
        root = None
        if options["root"]:
            issued = IssuedCode.objects.filter(scheme=scheme, code=options["root"]).select_related("node").first()
            if issued is None:
                raise CommandError(f"root: no node has had code {options['root']!r} in scheme {scheme.key}")
            root = issued.node
        as_of = None
        if options["as_of"]:
            try:
                as_of = dt.date.fromisoformat(options["as_of"])
            except ValueError as exc:
                raise CommandError(f"as_of: {options['as_of']!r} is not a date (YYYY-MM-DD)") from exc
        try:
            collection = gridmaps.gridmap_export(scheme=scheme, root=root, levels=options["level"] or None,
                                                 as_of=as_of)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{f}: {m}" for f, ms in exc.message_dict.items() for m in ms)) from exc
        text = json.dumps(collection, ensure_ascii=False)
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"{len(collection['features'])} features written to {options['output']}")
        else:
            self.stdout.write(text)
