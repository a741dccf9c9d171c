"""The process caches of `core.versioned` see every write of this app's settings: a trigger on each table
bumps its kind's counter in the writing transaction, whichever path writes (services, admin, bulk, SQL)."""

from django.db import migrations

from gridgov.core.versioned import bump_triggers

TABLES = {"cases_casepolicy": "POLICY", "cases_actiongrant": "GRANTS", "cases_routingrule": "ROUTING"}


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0009_scheme_catalogue_moves_to_the_catalogue"),
        ("core", "0004_config_version"),
    ]

    operations = [bump_triggers(TABLES)]
