"""Node rows (names, codes, paths, attributes) are cached per process beside the spatial index
(`territory.locate`): a trigger on the node table bumps the NODES counter of `core.versioned` in the writing
transaction, whichever path writes."""

from django.db import migrations

from gridgov.core.versioned import bump_triggers_install, bump_triggers_remove

TABLES = {"territory_node": "NODES"}


def install(apps, schema_editor):
    bump_triggers_install(schema_editor.connection, TABLES)


def remove(apps, schema_editor):
    bump_triggers_remove(schema_editor.connection, TABLES)


class Migration(migrations.Migration):

    dependencies = [
        ("territory", "0002_config_version_triggers"),
    ]

    operations = [migrations.RunPython(install, remove)]
