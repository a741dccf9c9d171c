"""`manage.py load_catalogue` loads the shipped default matter catalogue (idempotent);
`manage.py load_catalogue mine.json --key haimen` a deployment's own, in the same format."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gridgov.catalogue.services import DEFAULT_FILE, catalogue_load


class Command(BaseCommand):
    help = "Load a matter catalogue (the default one when no file is given)"

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default=str(DEFAULT_FILE))
        parser.add_argument("--key", default="default")
        parser.add_argument("--name", default="")

    def handle(self, *args, file, key, name, **options):
        try:
            with open(file, encoding="utf-8") as f:
                data = json.load(f)
            report = catalogue_load(key=key, data=data, name_zh=name or ("默认事项清单" if key == "default" else key))
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"{file}: {exc}") from None
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {m}" for k, ms in exc.message_dict.items() for m in ms)) from None
        self.stdout.write(f"catalogue {key}: {report.categories} categories, {report.created} matters created, "
                          f"{report.updated} updated, {report.unchanged} unchanged")
