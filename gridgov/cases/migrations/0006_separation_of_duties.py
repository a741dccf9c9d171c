"""Separation of duties (监督与处置分离): the owner (首问首办) no longer verifies — accepting a case made a
department's handler its owner, and the owner held `verify_pass`; verification belongs to the centre, the
grid office and, where the scheme's case policy sets `reporter_verifies`, the reporter (holder REPORTER).
Idempotent: a database created after this change already has the new default rows (0002 reads the table)."""

from django.db import migrations, models

VERIFY = ("verify_pass", "verify_fail")


def forward(apps, schema_editor):
    ActionGrant = apps.get_model("cases", "ActionGrant")
    ActionGrant.objects.filter(scheme=None, action__in=VERIFY, holder="OWNER").delete()
    for action in VERIFY:
        if not ActionGrant.objects.filter(scheme=None, action=action, holder="REPORTER").exists():
            ActionGrant.objects.create(scheme=None, action=action, holder="REPORTER", role_category="")


def backward(apps, schema_editor):
    ActionGrant = apps.get_model("cases", "ActionGrant")
    ActionGrant.objects.filter(scheme=None, action__in=VERIFY, holder="REPORTER").delete()
    for action in VERIFY:
        if not ActionGrant.objects.filter(scheme=None, action=action, holder="OWNER").exists():
            ActionGrant.objects.create(scheme=None, action=action, holder="OWNER", role_category="")


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0005_case_publication'),
    ]

    operations = [
        migrations.AddField(
            model_name='casepolicy',
            name='reporter_verifies',
            field=models.BooleanField(default=False, help_text='The reporter may verify (close or send back) the handling of their report, beside the command centre and the grid office; never a reporter who handled it themselves', verbose_name='the reporter verifies the handling'),
        ),
        migrations.AlterField(
            model_name='actiongrant',
            name='holder',
            field=models.CharField(choices=[('ROLE', "Holder of a role over the case's cell"), ('CENTRE', 'Command centre (sees the whole territory)'), ('OWNER', "The case's owner (首问首办)"), ('ASSIGNEE', "The case's current assignee"), ('FINDER', 'Who reported it'), ('REPORTER', 'Who reported it, where the case policy lets reporters verify'), ('REPORT_IN', 'A department called to report in'), ('SYSTEM', 'The system itself')], max_length=10, verbose_name='holder'),
        ),
        migrations.RunPython(forward, backward),
    ]
