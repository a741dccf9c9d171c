"""The process caches of `core.versioned` see every write of the teams and of who holds which role where: a
trigger on each table bumps its kind's counter in the writing transaction, whichever path writes (services,
admin, bulk, SQL)."""

from django.db import migrations

from gridgov.core.versioned import bump_triggers

TABLES = {"accounts_department": "TEAMS", "accounts_team": "TEAMS", "accounts_team_areas": "TEAMS",
          "accounts_team_members": "TEAMS",
          "accounts_assignment": "ASSIGNMENTS", "accounts_role": "ASSIGNMENTS", "accounts_person": "ASSIGNMENTS",
          "accounts_user": "ASSIGNMENTS"}


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0010_standard_duties_help"),
        ("core", "0004_config_version"),
    ]

    operations = [bump_triggers(TABLES)]
