"""The process caches of `core.versioned` see every write of this app's settings: a trigger on each table
bumps its kind's counter in the writing transaction, whichever path writes (services, admin, bulk, SQL)."""

from django.db import migrations

from gridgov.core.versioned import bump_triggers

TABLES = {"catalogue_catalogue": "CATALOGUE", "catalogue_schemecatalogue": "CATALOGUE", "catalogue_category": "CATALOGUE", "catalogue_matter": "CATALOGUE", "catalogue_matterstage": "CATALOGUE", "catalogue_dutylist": "CATALOGUE", "catalogue_dutylistentry": "CATALOGUE"}


class Migration(migrations.Migration):

    dependencies = [
        ("catalogue", "0005_scheme_catalogue"),
        ("core", "0004_config_version"),
    ]

    operations = [bump_triggers(TABLES)]
