"""The security audit log becomes a hash chain (seq, prev_hash, hash), append-only by trigger, with a
chain head and the prune permit the trigger consults. Existing rows are chained in id order."""

import django.utils.timezone
from django.db import migrations, models

from gridgov.core.db import append_only_install, append_only_remove


def chain_existing(apps, schema_editor):
    from gridgov.core.models import entry_digest
    from gridgov.core.models import GENESIS

    AuditEntry = apps.get_model("core", "AuditEntry")
    AuditChainHead = apps.get_model("core", "AuditChainHead")
    seq, prev = 0, GENESIS
    for entry in AuditEntry.objects.order_by("id").iterator():
        seq += 1
        entry.seq, entry.prev_hash = seq, prev
        entry.summary = entry.summary or ""
        entry.hash = prev = entry_digest(seq=seq, at=entry.at, actor_id=entry.actor_id, action=entry.action,
                                         target_type=entry.target_type, target_id=entry.target_id,
                                         summary=entry.summary, changes=entry.changes, address=entry.address,
                                         prev_hash=prev)
        entry.save(update_fields=["seq", "prev_hash", "hash"])
    AuditChainHead.objects.update_or_create(pk=1, defaults={"seq": seq, "hash": prev})


def guard(apps, schema_editor):
    append_only_install(schema_editor.connection, ("core_auditentry",))


def unguard(apps, schema_editor):
    append_only_remove(schema_editor.connection, ("core_auditentry",))


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_audit_address'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditChainHead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.PositiveBigIntegerField(default=0)),
                ('hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
            ],
            options={
                'verbose_name': 'audit chain head',
                'verbose_name_plural': 'audit chain head',
                'default_permissions': (),
            },
        ),
        migrations.CreateModel(
            name='AuditPrunePermit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('before', models.DateTimeField()),
            ],
            options={
                'default_permissions': (),
            },
        ),
        migrations.AlterModelOptions(
            name='auditentry',
            options={'ordering': ['-seq'], 'permissions': [('export_auditentry', 'Can export the audit log')], 'verbose_name': 'audit entry', 'verbose_name_plural': 'audit log'},
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='at',
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False, verbose_name='at'),
        ),
        migrations.AddField(
            model_name='auditentry',
            name='seq',
            field=models.PositiveBigIntegerField(editable=False, null=True, verbose_name='sequence'),
        ),
        migrations.AddField(
            model_name='auditentry',
            name='prev_hash',
            field=models.CharField(default='', editable=False, max_length=64, verbose_name='previous hash'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='auditentry',
            name='hash',
            field=models.CharField(default='', editable=False, max_length=64, verbose_name='hash'),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='auditentry',
            name='seq',
            field=models.PositiveBigIntegerField(editable=False, unique=True, verbose_name='sequence'),
        ),
        migrations.RunPython(guard, unguard),
    ]
