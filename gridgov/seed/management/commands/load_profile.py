"""`manage.py load_profile NAME`: build one of the five seed systems on its real administrative codes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gridgov.people.models import Resident
from gridgov.seed.demo_people import demo_estimate
from gridgov.seed.profiles import PROFILES, profile_get, profile_load, profile_scheme, profile_unload
from gridgov.seed.profiles.base import PEOPLE_AUTO_LIMIT, profile_people_load
from gridgov.seed.profiles.loop import profile_loop_apply


class Command(BaseCommand):
    help = ("Load a seed system: its level scheme, vocabularies and roles, its real administrative divisions "
            "on synthetic polygons, grids at the published sizes, people in charge and demo logins. "
            "Profiles: " + ", ".join(f"{key} ({p.summary})" for key, p in PROFILES.items()))

    def add_arguments(self, parser):
        parser.add_argument("name", choices=sorted(PROFILES), help="the profile to load")
        parser.add_argument("--scale", type=float, default=1.0,
                            help="shrink the published counts by this factor, in (0, 1] (tests, quick looks)")
        people = parser.add_mutually_exclusive_group()
        people.add_argument("--people", dest="people", action="store_true", default=None,
                            help="also load the synthetic base data (households, residents, houses, units, special "
                                 "groups, party members, volunteers) at the published sizes; with --if-empty on a "
                                 "loaded profile, add or refresh them (idempotent)")
        people.add_argument("--no-people", dest="people", action="store_false",
                            help="load the territory and the people in charge only")
        parser.add_argument("--people-fill", type=float, default=1.0,
                            help="generate this share, in (0, 1], of each cell's households (quick looks at the "
                                 "big profiles). Default: the base data are loaded when they are small (Pinggu's "
                                 "208 households, or a big profile at a small --scale), else only with --people")
        when_loaded = parser.add_mutually_exclusive_group()
        when_loaded.add_argument("--if-empty", action="store_true",
                                 help="if the profile is already loaded, say so and do nothing (make run)")
        when_loaded.add_argument("--replace", action="store_true",
                                 help="delete the loaded profile (its cells, history, people and demo logins) "
                                      "and load it again, in one transaction")

    def handle(self, *args, name: str, scale: float, if_empty: bool, replace: bool, people: bool | None,
               people_fill: float, **options):
        profile = profile_get(name)
        # the raw stream: tqdm redraws its bar with carriage returns, which OutputWrapper would end with newlines
        progress = self.stderr._out if options["verbosity"] >= 1 else None
        scheme = profile_scheme(profile)
        if scheme is not None:
            if if_empty:
                self.stdout.write(f"{name} is already loaded (level scheme {name!r} exists).")
                self.loop_if_missing(profile)
                self.people_if_wanted(profile, scheme, people=people, fill=people_fill, progress=progress)
                return
            if not replace:
                raise CommandError(f"{name} is already loaded (level scheme {name!r} exists). Use --replace to "
                                   "delete it and load it again, or --if-empty to leave it as it is.")
        try:
            with transaction.atomic():
                if replace:
                    deleted = profile_unload(profile)
                    self.stderr.write(f"deleted the loaded {name}: {deleted} cells")
                report = profile_load(profile, scale=scale, progress=progress, people=people,
                                      people_fill=people_fill)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        for line in report.lines():
            self.stdout.write(line)

    def loop_if_missing(self, profile) -> None:
        """A profile loaded before it had a loop configuration gets it (idempotent: else nothing changes)."""
        try:
            report = profile_loop_apply(profile)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if report.changed:
            for line in report.lines():
                self.stdout.write(line)

    def people_if_wanted(self, profile, scheme, *, people: bool | None, fill: float, progress) -> None:
        """On a loaded profile: --people upserts the base data (unchanged rows stay so); by default they are
        added only when none are stored yet and they are small (a `make run` on an older database)."""
        if people is False:
            return
        if people is None:
            if Resident.objects.filter(scheme=scheme).exists():
                self.stdout.write("Its base data are loaded; nothing to do.")
                return
            estimate = demo_estimate(scheme, fill=fill)
            if estimate > PEOPLE_AUTO_LIMIT:
                self.stdout.write(f"Its synthetic base data (about {estimate:,} residents) are not loaded; add "
                                  f"--people to load them.")
                return
        try:
            with transaction.atomic():
                report = profile_people_load(profile, fill=fill, progress=progress)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        for line in report.lines():
            self.stdout.write(line)
