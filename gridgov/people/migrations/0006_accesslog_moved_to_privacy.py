"""`AccessLog` now belongs to `privacy` (its 0001 took the model's state over, table and rows unchanged):
drop it from this app's state only."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('people', '0005_user_references_protected'),
        ('privacy', '0001_accesslog_from_people'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='AccessLog')],
            database_operations=[],
        ),
    ]
