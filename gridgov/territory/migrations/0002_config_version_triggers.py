"""The process caches of `core.versioned` see every write of this app's settings: a trigger on each table
bumps its kind's counter in the writing transaction, whichever path writes (services, admin, bulk, SQL)."""

from django.db import migrations

from gridgov.core.versioned import bump_triggers

TABLES = {"territory_levelscheme": "SCHEME", "territory_level": "SCHEME"}


class Migration(migrations.Migration):

    dependencies = [
        ("territory", "0001_initial"),
        ("core", "0004_config_version"),
    ]

    operations = [bump_triggers(TABLES)]
