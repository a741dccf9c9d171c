"""`manage.py load_demo_cases pinggu [--count 40] [--if-empty]`: demo cases for a loaded profile."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from gridgov.cases.models import Case
from gridgov.seed.demo_cases import demo_cases
from gridgov.territory.models import LevelScheme


class Command(BaseCommand):
    help = "Create demo cases in a loaded profile, taken through the loop by its own people"

    def add_arguments(self, parser):
        parser.add_argument("scheme", help="the profile / level scheme key, e.g. pinggu")
        parser.add_argument("--count", type=int, default=40)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--if-empty", action="store_true", help="do nothing if the scheme has cases")

    def handle(self, *args, scheme, count, seed, if_empty, **options):
        found = LevelScheme.objects.filter(key=scheme).first()
        if found is None:
            raise CommandError(f"no level scheme {scheme!r} is loaded")
        if if_empty and Case.objects.filter(scheme=found).exists():
            self.stdout.write(f"{scheme}: has cases already, none added")
            return
        report = demo_cases(scheme=found, count=count, seed=seed)
        refused = ", ".join(f"{k} {v}" for k, v in report.refused.items()) or "none"
        self.stdout.write(f"{scheme}: {report.created} demo cases (steps refused by the configuration: {refused})")
