"""Node rows (names, codes, paths, attributes) are cached per process beside the spatial index
(`territory.locate`): a trigger on the node table bumps the NODES counter of `core.versioned` in the writing
transaction, whichever path writes."""

from django.db import migrations

from gridgov.core.versioned import bump_triggers

TABLES = {"territory_node": "NODES"}


class Migration(migrations.Migration):

    dependencies = [
        ("territory", "0002_config_version_triggers"),
    ]

    operations = [bump_triggers(TABLES)]
