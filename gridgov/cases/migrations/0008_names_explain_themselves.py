"""Names that explain themselves (issue 12, item 8), with the stored values converted both ways:

- the time-limit status 预警 / 超期 is WARNING / OVERDUE (was YELLOW / RED), and on time is ON_TIME (was
  GREEN): cases, stages, the watch's events (kind `sla_warning` / `sla_overdue`, their `status` values)
  and its notices (kind and idempotency key);
- the holder who reported a case is REPORTER (was FINDER); the reporter where the case policy lets
  reporters verify is REPORTER_VERIFYING (was REPORTER): grants and the standings events recorded;
- `Case.handled_at` is `reported_back_at`, the column its label always named; the policy's
  `yellow_share` / `escalate_when_red` are `warning_share` / `escalate_when_overdue`;
- a report event's channel lives in its data (`new_values["channel"]`, written since the first
  migration), not in `actor_role` ("channel:PATROL"), which holds standings only.

Case events are append-only (database triggers): the conversion lifts the guard on that table for its
own updates and puts it back in the same transaction. The security audit log is not touched: it records
the values as they were when a grant was changed.
"""

from django.db import migrations, models
from django.db.models import Q

from gridgov.core.db import append_only_install, append_only_remove

SLA = {"GREEN": "ON_TIME", "YELLOW": "WARNING", "RED": "OVERDUE"}
SLA_KINDS = {"sla_yellow": "sla_warning", "sla_red": "sla_overdue"}
# applied in this order: the old REPORTER becomes REPORTER_VERIFYING before FINDER takes its name
HOLDERS = (("REPORTER", "REPORTER_VERIFYING"), ("FINDER", "REPORTER"))
EVENTS = "cases_caseevent"


def _inverse(pairs):
    return tuple((new, old) for old, new in reversed(pairs))


def _status_values(values: dict, mapping: dict) -> dict:
    return {k: (mapping.get(v, v) if k in ("status", "sla_status") and isinstance(v, str) else v)
            for k, v in (values or {}).items()}


def _key(key: str, mapping: dict) -> str:
    parts = key.split(":")
    return ":".join(mapping.get(p, p) if i == 2 and p in mapping else p for i, p in enumerate(parts))


def _convert(apps, schema_editor, *, sla: dict, kinds: dict, holders: tuple, forward: bool) -> None:
    Case = apps.get_model("cases", "Case")
    CaseStage = apps.get_model("cases", "CaseStage")
    CaseEvent = apps.get_model("cases", "CaseEvent")
    Notification = apps.get_model("cases", "Notification")
    ActionGrant = apps.get_model("cases", "ActionGrant")
    db = schema_editor.connection.alias

    for old, new in sla.items():
        Case.objects.using(db).filter(sla_status=old).update(sla_status=new)
        CaseStage.objects.using(db).filter(status=old).update(status=new)
    for old, new in holders:
        ActionGrant.objects.using(db).filter(holder=old).update(holder=new)
    for notice in Notification.objects.using(db).filter(kind__in=list(kinds)).only("pk", "kind", "key"):
        notice.kind, notice.key = kinds[notice.kind], _key(notice.key, sla)
        notice.save(update_fields=["kind", "key"])

    append_only_remove(schema_editor.connection, (EVENTS,))
    for old, new in holders:
        CaseEvent.objects.using(db).filter(actor_role=old).update(actor_role=new)
    for event in CaseEvent.objects.using(db).filter(kind__in=list(kinds)):
        event.kind = kinds[event.kind]
        event.old_values, event.new_values = _status_values(event.old_values, sla), _status_values(event.new_values, sla)
        event.save(update_fields=["kind", "old_values", "new_values"])
    if forward:
        for event in CaseEvent.objects.using(db).filter(actor_role__startswith="channel:"):
            new_values = dict(event.new_values or {})
            new_values.setdefault("channel", event.actor_role.split(":", 1)[1])
            event.actor_role, event.new_values = "", new_values
            event.save(update_fields=["actor_role", "new_values"])
    else:
        for event in CaseEvent.objects.using(db).filter(Q(actor_role="") & Q(kind="report")):
            channel = (event.new_values or {}).get("channel")
            if channel:
                event.actor_role = f"channel:{channel}"
                event.save(update_fields=["actor_role"])
    append_only_install(schema_editor.connection, (EVENTS,))


def forwards(apps, schema_editor):
    _convert(apps, schema_editor, sla=SLA, kinds=SLA_KINDS, holders=HOLDERS, forward=True)


def backwards(apps, schema_editor):
    _convert(apps, schema_editor, sla={v: k for k, v in SLA.items()}, kinds={v: k for k, v in SLA_KINDS.items()},
             holders=_inverse(HOLDERS), forward=False)


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0007_kinds_from_the_workflow_registry'),
    ]

    operations = [
        migrations.RenameField(model_name='case', old_name='handled_at', new_name='reported_back_at'),
        migrations.RemoveConstraint(model_name='casepolicy', name='policy_yellow_share'),
        migrations.RenameField(model_name='casepolicy', old_name='yellow_share', new_name='warning_share'),
        migrations.RenameField(model_name='casepolicy', old_name='escalate_when_red',
                               new_name='escalate_when_overdue'),
        migrations.AddConstraint(
            model_name='casepolicy',
            constraint=models.CheckConstraint(condition=models.Q(('warning_share__gt', 0), ('warning_share__lte', 1)),
                                              name='policy_warning_share',
                                              violation_error_message='the yellow share is more than 0 and at most 1'),
        ),
        migrations.AlterField(
            model_name='case',
            name='sla_status',
            field=models.CharField(choices=[('NONE', 'No running time limit'), ('ON_TIME', 'On time'), ('WARNING', 'Close to the limit'), ('OVERDUE', 'Overdue')], default='NONE', max_length=7, verbose_name='time-limit status'),
        ),
        migrations.AlterField(
            model_name='casestage',
            name='status',
            field=models.CharField(choices=[('NONE', 'No running time limit'), ('ON_TIME', 'On time'), ('WARNING', 'Close to the limit'), ('OVERDUE', 'Overdue')], default='ON_TIME', max_length=7, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='actiongrant',
            name='holder',
            field=models.CharField(choices=[('ROLE', "Holder of a role over the case's cell"), ('CENTRE', 'Command centre (sees the whole territory)'), ('OWNER', "The case's owner (首问首办)"), ('ASSIGNEE', "The case's current assignee"), ('REPORTER', 'Who reported it'), ('REPORTER_VERIFYING', 'Who reported it, where the case policy lets reporters verify'), ('REPORT_IN', 'A department called to report in'), ('SYSTEM', 'The system itself')], max_length=18, verbose_name='holder'),
        ),
        migrations.AlterField(
            model_name='actiongrant',
            name='action',
            field=models.CharField(choices=[('register', 'Register'), ('reject', 'Reject (not registered)'), ('merge', 'Merge into another case'), ('self_handle', 'Handled on the spot'), ('auto_close', 'Closed without sampled verification'), ('dispatch', 'Dispatch'), ('reroute', 'Re-route to another handler'), ('accept', 'Accept'), ('return', 'Return to the dispatcher'), ('partial_handle', 'Part handled by the reporter'), ('complete_stage', 'Stage done'), ('report_back', 'Report back'), ('verify_pass', 'Verified: close'), ('verify_fail', 'Verification failed: rework'), ('evaluate', 'Evaluate'), ('reopen', 'Reopen (dissatisfied)'), ('request_extension', 'Apply for an extension'), ('approve_extension', 'Approve the extension'), ('reject_extension', 'Refuse the extension'), ('request_parking', 'Apply to park'), ('approve_parking', 'Approve parking'), ('reject_parking', 'Refuse parking'), ('unpark', 'Resume a parked case'), ('whistle', 'Blow the whistle (escalate)'), ('report_in', 'Report in'), ('comment', 'Add a note')], max_length=30, verbose_name='action'),
        ),
        migrations.AlterField(
            model_name='case',
            name='handling_mode',
            field=models.CharField(choices=[('SELF', 'Found and handled on the spot (巡办合一)'), ('COLLABORATIVE', 'Reporter and department together (巡办协同)'), ('HANDOVER', 'Handed to a department (巡办分离)')], default='HANDOVER', max_length=14, verbose_name='handling mode'),
        ),
        migrations.AlterField(
            model_name='caseevent',
            name='kind',
            field=models.CharField(choices=[('register', 'Register'), ('reject', 'Reject (not registered)'), ('merge', 'Merge into another case'), ('self_handle', 'Handled on the spot'), ('auto_close', 'Closed without sampled verification'), ('dispatch', 'Dispatch'), ('reroute', 'Re-route to another handler'), ('accept', 'Accept'), ('return', 'Return to the dispatcher'), ('partial_handle', 'Part handled by the reporter'), ('complete_stage', 'Stage done'), ('report_back', 'Report back'), ('verify_pass', 'Verified: close'), ('verify_fail', 'Verification failed: rework'), ('evaluate', 'Evaluate'), ('reopen', 'Reopen (dissatisfied)'), ('request_extension', 'Apply for an extension'), ('approve_extension', 'Approve the extension'), ('reject_extension', 'Refuse the extension'), ('request_parking', 'Apply to park'), ('approve_parking', 'Approve parking'), ('reject_parking', 'Refuse parking'), ('unpark', 'Resume a parked case'), ('whistle', 'Blow the whistle (escalate)'), ('report_in', 'Report in'), ('comment', 'Add a note'), ('report', 'Reported'), ('sampled', 'Sampled for verification'), ('sla_warning', 'Close to the time limit'), ('sla_overdue', 'Over the time limit'), ('report_in_overdue', 'Report-in overdue')], max_length=30, verbose_name='kind'),
        ),
        migrations.AlterField(
            model_name='notification',
            name='kind',
            field=models.CharField(choices=[('dispatch', 'Dispatch'), ('reroute', 'Re-route to another handler'), ('return', 'Return to the dispatcher'), ('report_back', 'Report back'), ('verify_fail', 'Verification failed: rework'), ('reopen', 'Reopen (dissatisfied)'), ('request_extension', 'Apply for an extension'), ('approve_extension', 'Approve the extension'), ('reject_extension', 'Refuse the extension'), ('request_parking', 'Apply to park'), ('approve_parking', 'Approve parking'), ('reject_parking', 'Refuse parking'), ('whistle', 'Blow the whistle (escalate)'), ('sla_warning', 'Close to the time limit'), ('sla_overdue', 'Over the time limit'), ('report_in_overdue', 'Report-in overdue'), ('level_routine', 'Routine case told to the levels'), ('level_urgent', 'Urgent case told to the levels'), ('level_major', 'Major case told to the levels')], max_length=30, verbose_name='kind'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
