from django.db import migrations

from gridgov.core.db import append_only_install, append_only_remove

TABLES = ("cases_caseevent",)


def guards(apps, schema_editor):
    append_only_install(schema_editor.connection, TABLES)


def unguard(apps, schema_editor):
    append_only_remove(schema_editor.connection, TABLES)


# the table's holders under the names they had until 0008 renamed them (and converted these rows)
HOLDERS_THEN = {"REPORTER": "FINDER", "REPORTER_VERIFYING": "REPORTER"}


def grants(apps, schema_editor, holders: dict = HOLDERS_THEN):
    """The default grants; the suite's re-seeding after a flush passes `holders={}` (today's names)."""
    from gridgov.cases.transitions import default_grant_rows

    ActionGrant = apps.get_model("cases", "ActionGrant")
    ActionGrant.objects.bulk_create([
        ActionGrant(scheme=None, **{**row, "holder": holders.get(row["holder"], row["holder"])})
        for row in default_grant_rows()])
    # the command centre and office staff see who reported; handlers do not, even once they own the case
    ActionGrant.objects.filter(action="register", holder="CENTRE").update(sees_reporter=True)
    ActionGrant.objects.filter(action="register", holder="ROLE", role_category="OFFICE").update(sees_reporter=True)


def ungrant(apps, schema_editor):
    apps.get_model("cases", "ActionGrant").objects.filter(scheme=None).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [
        migrations.RunPython(guards, unguard),
        migrations.RunPython(grants, ungrant),
    ]
