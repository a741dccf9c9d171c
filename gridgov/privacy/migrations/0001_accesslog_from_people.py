"""The access log moves from `people` to `privacy`: the model's state only. The table keeps its name
(`people_accesslog`), its rows, indexes and append-only triggers; the content type is re-labelled, so the
permissions given on it (view the access log) stay with the users and groups that hold them. `people`
0006 then drops the model from its own state."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _relabel(apps, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=new, model="accesslog").exists():
        ContentType.objects.filter(app_label=old, model="accesslog").update(app_label=new)


def content_type_to_privacy(apps, schema_editor):
    _relabel(apps, "people", "privacy")


def content_type_to_people(apps, schema_editor):
    _relabel(apps, "privacy", "people")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('people', '0005_user_references_protected'),
        ('territory', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AccessLog',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='at')),
                        ('kind', models.CharField(choices=[('REVEAL', 'Revealed'), ('EXPORT', 'Exported'), ('EXPORT_REVEALED', 'Exported unmasked'), ('IMPORT', 'Imported'), ('ERASE', 'Erased'), ('SEARCH', 'Searched by personal data'), ('DOWNLOAD', 'Downloaded an unmasked export')], max_length=16, verbose_name='kind')),
                        ('record_type', models.CharField(blank=True, max_length=40, verbose_name='record type')),
                        ('record_id', models.BigIntegerField(blank=True, null=True, verbose_name='record id')),
                        ('fields', models.CharField(blank=True, max_length=200, verbose_name='fields')),
                        ('purpose', models.CharField(max_length=300, verbose_name='stated purpose')),
                        ('rows', models.PositiveIntegerField(blank=True, help_text='For exports and imports', null=True, verbose_name='rows')),
                        ('detail', models.JSONField(blank=True, default=dict, help_text='Filters of an export, job of an import; never personal data', verbose_name='detail')),
                        ('remote_addr', models.GenericIPAddressField(blank=True, null=True, verbose_name='address')),
                        ('node', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='territory.node', verbose_name='cell')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user')),
                    ],
                    options={
                        'verbose_name': 'personal-data access',
                        'verbose_name_plural': 'personal-data access log',
                        'db_table': 'people_accesslog',
                        'ordering': ['-at', '-id'],
                        'indexes': [models.Index(fields=['record_type', 'record_id'], name='access_record_idx'), models.Index(fields=['user', 'at'], name='access_user_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_to_privacy, content_type_to_people),
    ]
