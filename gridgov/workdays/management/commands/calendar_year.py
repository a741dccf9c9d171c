"""`manage.py calendar_year 2027 holidays.csv`: enter a year's holiday arrangement (rest days and swapped
working days) from a CSV with columns date, is_workday, name; `manage.py calendar_year 2027` shows the
year's non-ordinary days and where they come from."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gridgov.workdays.calendar import day_status, year_covered
from gridgov.workdays.services import calendar_file_import


class Command(BaseCommand):
    help = "Enter or show a year's holidays and swapped working days"

    def add_arguments(self, parser):
        parser.add_argument("year", type=int)
        parser.add_argument("file", nargs="?", help="CSV: date,is_workday,name (UTF-8)")

    def handle(self, *args, year, file, **options):
        if file:
            try:
                n = calendar_file_import(path=file, year=year)
            except ValidationError as exc:
                raise CommandError("; ".join(m for ms in exc.message_dict.values() for m in ms)) from None
            except OSError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"{n} days of {year} entered")
        if not year_covered(year):
            self.stdout.write(f"{year}: no holiday data yet — Monday to Friday count as working days")
        day = dt.date(year, 1, 1)
        while day.year == year:
            workday, name, source = day_status(day)
            if workday != (day.weekday() < 5):
                self.stdout.write(f"{day}  {'workday' if workday else 'rest'}  {name}  ({source})")
            day += dt.timedelta(days=1)
