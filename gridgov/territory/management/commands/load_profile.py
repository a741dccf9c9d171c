"""`manage.py load_profile NAME`: build one of the five seed systems on its real administrative codes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gridgov.territory.profiles import PROFILES, profile_get, profile_load, profile_scheme, profile_unload


class Command(BaseCommand):
    help = ("Load a seed system: its level scheme, vocabularies and roles, its real administrative divisions "
            "on synthetic polygons, grids at the published sizes, people in charge and demo logins. "
            "Profiles: " + ", ".join(f"{key} ({p.summary})" for key, p in PROFILES.items()))

    def add_arguments(self, parser):
        parser.add_argument("name", choices=sorted(PROFILES), help="the profile to load")
        parser.add_argument("--scale", type=float, default=1.0,
                            help="shrink the published counts by this factor, in (0, 1] (tests, quick looks)")
        when_loaded = parser.add_mutually_exclusive_group()
        when_loaded.add_argument("--if-empty", action="store_true",
                                 help="if the profile is already loaded, say so and do nothing (make run)")
        when_loaded.add_argument("--replace", action="store_true",
                                 help="delete the loaded profile (its cells, history, people and demo logins) "
                                      "and load it again, in one transaction")

    def handle(self, *args, name: str, scale: float, if_empty: bool, replace: bool, **options):
        profile = profile_get(name)
        # the raw stream: tqdm redraws its bar with carriage returns, which OutputWrapper would end with newlines
        progress = self.stderr._out if options["verbosity"] >= 1 else None
        if profile_scheme(profile) is not None:
            if if_empty:
                self.stdout.write(f"{name} is already loaded (level scheme {name!r} exists); nothing to do.")
                return
            if not replace:
                raise CommandError(f"{name} is already loaded (level scheme {name!r} exists). Use --replace to "
                                   "delete it and load it again, or --if-empty to leave it as it is.")
        try:
            with transaction.atomic():
                if replace:
                    deleted = profile_unload(profile)
                    self.stderr.write(f"deleted the loaded {name}: {deleted} cells")
                report = profile_load(profile, scale=scale, progress=progress)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        for line in report.lines():
            self.stdout.write(line)
