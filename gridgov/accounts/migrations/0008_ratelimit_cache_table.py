"""The table of the shared rate-limit cache (the database cache of settings.RATELIMIT_CACHE), so every
`migrate` — `make migrate`, `make run`, the test database — has it. Nothing happens when that cache is
Redis."""

from django.core.management import call_command
from django.db import migrations


def create(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def drop(apps, schema_editor):
    from django.conf import settings

    location = settings.CACHES.get(getattr(settings, "RATELIMIT_CACHE", ""), {}).get("LOCATION")
    if location and settings.CACHES[settings.RATELIMIT_CACHE]["BACKEND"].endswith("DatabaseCache"):
        schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(location)}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_password_history_and_changed_at")]
    operations = [migrations.RunPython(create, drop)]
