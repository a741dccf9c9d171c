"""Run the time-limit watch once: `manage.py case_watch [--now 2026-11-23T10:05] [--batch 2000]`.

The periodic task does this every minute; the command is for catching up by hand and for trying a
policy's marks against a chosen moment (a time without an offset is in the site's time zone)."""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from gridgov.cases.watch import sla_watch


def _moment(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date and time: {value!r}") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = "Turn stages yellow and red as their time limits pass and notice overdue report-ins (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--now", type=_moment, default=None,
                            help="The moment to watch at (ISO 8601; default: now)")
        parser.add_argument("--batch", type=int, default=2000, help="Candidate stages read per page")

    def handle(self, *args, now=None, batch=2000, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        report = sla_watch(now=now, batch=batch)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in asdict(report).items()))
