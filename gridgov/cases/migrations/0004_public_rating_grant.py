"""The reporter rates a closed case from the public tracking page, without an account.

The default grants let only the FINDER (a logged-in reporter), the command centre and office staff evaluate
or reopen a case. A resident who reported through the QR page or the hotline has no login: the tracking
page acts for them as the system (actor None → holder SYSTEM). Holding the tracking code, a random
ten-character secret handed only to the reporter, is what proves they are the reporter; the page allows one
rating per case and limits ratings per address. `reopen` is granted too because a score below the policy's
threshold reopens the case (`services.case_evaluate`)."""

from django.db import migrations

ROWS = (("evaluate", "SYSTEM"), ("reopen", "SYSTEM"))


def grant(apps, schema_editor):
    ActionGrant = apps.get_model("cases", "ActionGrant")
    for action, holder in ROWS:
        if not ActionGrant.objects.filter(scheme=None, action=action, holder=holder).exists():
            ActionGrant.objects.create(scheme=None, action=action, holder=holder, role_category="")


def ungrant(apps, schema_editor):
    ActionGrant = apps.get_model("cases", "ActionGrant")
    for action, holder in ROWS:
        ActionGrant.objects.filter(scheme=None, action=action, holder=holder).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0003_policy_ranges")]

    operations = [migrations.RunPython(grant, ungrant)]
