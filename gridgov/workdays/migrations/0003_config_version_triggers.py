"""The process caches of `core.versioned` see every write of this app's settings: a trigger on each table
bumps its kind's counter in the writing transaction, whichever path writes (services, admin, bulk, SQL)."""

from django.db import migrations

from gridgov.core.versioned import bump_triggers

TABLES = {"workdays_calendarday": "CALENDAR", "workdays_workschedule": "CALENDAR"}


class Migration(migrations.Migration):

    dependencies = [
        ("workdays", "0002_updated_by_protected"),
        ("core", "0004_config_version"),
    ]

    operations = [bump_triggers(TABLES)]
