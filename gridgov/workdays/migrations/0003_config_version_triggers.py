"""The process caches of `core.versioned` see every write of this app's settings: a trigger on each table
bumps its kind's counter in the writing transaction, whichever path writes (services, admin, bulk, SQL)."""

from django.db import migrations

from gridgov.core.versioned import bump_triggers_install, bump_triggers_remove

TABLES = {"workdays_calendarday": "CALENDAR", "workdays_workschedule": "CALENDAR"}


def install(apps, schema_editor):
    bump_triggers_install(schema_editor.connection, TABLES)


def remove(apps, schema_editor):
    bump_triggers_remove(schema_editor.connection, TABLES)


class Migration(migrations.Migration):

    dependencies = [
        ("workdays", "0002_updated_by_protected"),
        ("core", "0004_config_version"),
    ]

    operations = [migrations.RunPython(install, remove)]
