"""Migration 0008 (names that explain themselves) converts the stored values both ways: back to YELLOW /
RED / GREEN, FINDER / REPORTER, `handled_at` and "channel:X" standings, and forward again to what they were."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from gridgov.cases.models import ActionGrant, Case, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.services.events import event_write
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.cases.watch import sla_watch

BEFORE = ("cases", "0007_kinds_from_the_workflow_registry")
START = timezone.make_aware(dt.datetime(2026, 11, 23, 9, 0))  # a working Monday


def _json(value):
    return value if isinstance(value, dict | list) or value is None else json.loads(value)


def _stored(case_id: int, *, reported_back: str) -> dict:
    """What the tables hold for the case, read with SQL (the models follow the latest migration only)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT sla_status, {reported_back} FROM cases_case WHERE id = %s", [case_id])  # noqa: S608
        case = cursor.fetchone()
        cursor.execute("SELECT status FROM cases_casestage WHERE case_id = %s ORDER BY \"order\"", [case_id])
        stages = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT kind, actor_role, old_values, new_values FROM cases_caseevent WHERE case_id = %s "
                       "ORDER BY seq", [case_id])
        events = [(kind, role, _json(old), _json(new)) for kind, role, old, new in cursor.fetchall()]
        cursor.execute("SELECT kind, key FROM cases_notification WHERE case_id = %s ORDER BY id", [case_id])
        notices = cursor.fetchall()
        cursor.execute("SELECT holder, COUNT(*) FROM cases_actiongrant GROUP BY holder ORDER BY holder")
        holders = dict(cursor.fetchall())
    return {"case": (case[0], bool(case[1])), "stages": stages, "events": events,
            "notices": [tuple(n) for n in notices], "holders": holders}


def _migrate(target: list[tuple[str, str]] | None = None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(target or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_names_migration_converts_stored_values_back_and_forth(scheme, tree):
    # given a hotline case whose first stage went close to its limit, then over it (events and notices),
    # reported back, with steps taken under both reporter standings
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="01001", lon=lon, lat=lat,
                       description="井盖丢了", at=START).case
    case = case_transition(case=case, actor=loop.office, action="register", at=START)
    case = case_transition(case=case, actor=loop.office, action="dispatch",
                           assignee={"kind": "DEPARTMENT", "department": "water"}, at=START)
    assert sla_watch(now=START + dt.timedelta(minutes=50)).warning == 1
    assert sla_watch(now=START + dt.timedelta(minutes=61)).overdue == 1
    Case.objects.filter(pk=case.pk).update(reported_back_at=START + dt.timedelta(hours=2))
    event_write(case=case, kind="comment", actor=loop.worker, actor_role="REPORTER", note="a")
    event_write(case=case, kind="comment", actor=loop.worker, actor_role="REPORTER_VERIFYING", note="b")
    now = _stored(case.pk, reported_back="reported_back_at")
    assert now["case"] == ("OVERDUE", True) and now["stages"] == ["OVERDUE", "ON_TIME"]
    assert now["events"][0][:2] == ("report", "") and now["events"][0][3]["channel"] == "HOTLINE"
    reporters = now["holders"]["REPORTER"]
    verifying = now["holders"]["REPORTER_VERIFYING"]
    assert reporters and verifying and "FINDER" not in now["holders"]

    # when the migration is reversed
    _migrate([BEFORE])
    # then the old names are stored
    then = _stored(case.pk, reported_back="handled_at")
    assert then["case"] == ("RED", True) and then["stages"] == ["RED", "GREEN"]
    kinds = [(kind, role, new.get("status")) for kind, role, _old, new in then["events"]]
    assert kinds[0][:2] == ("report", "channel:HOTLINE")
    assert [k for k in kinds if k[0].startswith("sla_")] == [("sla_yellow", "SYSTEM", "YELLOW"),
                                                             ("sla_red", "SYSTEM", "RED")]
    assert [k[1] for k in kinds[-2:]] == ["FINDER", "REPORTER"]
    sla_notices = [(kind, key) for kind, key in then["notices"] if kind.startswith("sla_")]
    assert {kind for kind, _key in sla_notices} == {"sla_yellow", "sla_red"}
    assert all(f":{'YELLOW' if kind == 'sla_yellow' else 'RED'}:" in key for kind, key in sla_notices)
    assert (then["holders"]["FINDER"], then["holders"]["REPORTER"]) == (reporters, verifying)
    assert "REPORTER_VERIFYING" not in then["holders"]

    # and applied again, everything is as it was
    _migrate()
    assert _stored(case.pk, reported_back="reported_back_at") == now
    assert ActionGrant.objects.filter(holder="REPORTER_VERIFYING").count() == verifying
