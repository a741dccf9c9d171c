"""The security audit log: append-only by trigger, hash-chained under a lock (bulk writes too), verified by
`audit_verify`, pruned only past the retention period with an anchor that keeps the chain verifiable."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from gridgov.core.audit import PRUNE_ACTION, audit_prune, audit_record, audit_retention_days, audit_verify
from gridgov.core.checks import audit_retention
from gridgov.core.db import append_only_install, append_only_remove
from gridgov.core.models import GENESIS, AuditChainHead, AuditEntry, AuditPrunePermit

pytestmark = pytest.mark.django_db


def write(n: int, *, action: str = "test.thing") -> list[AuditEntry]:
    return [audit_record(actor=None, action=action, summary=f"row {i}", changes={"i": i, "nested": {"b": 1, "a": [i]}},
                         address="10.0.0.1") for i in range(n)]


def seqs() -> list[int]:
    return list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


class TriggerLifted:
    """An attacker with the database owner's rights: drop the guard, tamper, put it back."""

    def __enter__(self):
        append_only_remove(connection, ("core_auditentry",))

    def __exit__(self, *exc):
        append_only_install(connection, ("core_auditentry",))


# ------------------------------------------------------------------------------------------ the chain
def test_rows_are_chained_and_verify_clean():
    # given
    first = AuditEntry.objects.order_by("seq").last()
    start = first.seq if first else 0
    # when
    rows = write(3)
    # then each row links to the previous one's hash, and the chain verifies
    assert [r.seq for r in rows] == [start + 1, start + 2, start + 3]
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert list(audit_verify()) == []
    head = AuditChainHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (rows[-1].seq, rows[-1].hash)


def test_bulk_writes_are_chained_too():
    # given
    write(1)
    # when a service writes many rows at once (territory bulk updates do)
    created = AuditEntry.objects.bulk_create([AuditEntry(action="territory.node_update", target_type="territory.node",
                                                         target_id=str(i), changes={"name": ["a", "b"]})
                                              for i in range(5)])
    # then they continue the chain one by one
    assert [c.seq for c in created] == list(range(created[0].seq, created[0].seq + 5))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(created))
    assert list(audit_verify()) == []


def test_rows_cannot_be_changed_or_deleted():
    # given
    entry = write(1)[0]
    # when / then: neither the ORM nor raw SQL through the application's connection may change it
    for attempt in (lambda: AuditEntry.objects.filter(pk=entry.pk).update(summary="forged"),
                    lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
                    lambda: raw("UPDATE core_auditentry SET summary = 'forged' WHERE id = %s", [entry.pk]),
                    lambda: raw("DELETE FROM core_auditentry WHERE id = %s", [entry.pk])):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    entry.refresh_from_db()
    assert entry.summary == "row 0"


def test_verify_names_an_altered_row():
    # given a clean chain
    rows = write(4)
    # when someone alters a row with raw SQL, the trigger lifted
    with TriggerLifted():
        raw("UPDATE core_auditentry SET summary = 'nothing happened' WHERE id = %s", [rows[2].pk])
    # then verify names it, and only it
    problems = list(audit_verify())
    assert [(p.seq, p.entry_id) for p in problems] == [(rows[2].seq, rows[2].pk)]
    assert "altered" in problems[0].reason
    # and the command says so and fails
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", stderr=err)
    assert f"seq {rows[2].seq}" in err.getvalue()


def test_verify_names_a_row_altered_together_with_its_hash():
    # given
    rows = write(3)
    # when the tamperer also recomputes the altered row's own hash (but cannot re-link the next row)
    from gridgov.core.models import entry_digest_of

    forged = AuditEntry.objects.get(pk=rows[1].pk)
    forged.summary = "forged"
    with TriggerLifted():
        raw("UPDATE core_auditentry SET summary = %s, hash = %s WHERE id = %s", ["forged", entry_digest_of(forged), forged.pk])
    # then the next row's link gives it away
    problems = list(audit_verify())
    assert [(p.seq, "previous row" in p.reason) for p in problems] == [(rows[2].seq, True)]


def test_verify_names_removed_rows():
    # given
    rows = write(5)
    # when a middle row and the newest row are removed
    with TriggerLifted():
        raw("DELETE FROM core_auditentry WHERE id IN (%s, %s)", [rows[2].pk, rows[4].pk])
    # then both removals are found
    reasons = [str(p) for p in audit_verify()]
    assert any(f"rows {rows[2].seq}–{rows[2].seq}" in r for r in reasons)
    assert any(f"newest row is {rows[3].seq}" in r for r in reasons)


def test_verify_names_removed_oldest_rows_without_an_anchor():
    # given
    rows = write(3)
    lowest = AuditEntry.objects.order_by("seq").first()
    # when the oldest rows are removed outside `audit_prune`
    with TriggerLifted():
        raw("DELETE FROM core_auditentry WHERE seq <= %s", [rows[0].seq])
    # then
    assert lowest.seq <= rows[0].seq
    assert any("no prune anchor" in p.reason for p in audit_verify())


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain():
    if connection.vendor != "postgresql":
        pytest.skip("real parallel connections: PostgreSQL")
    # given eight writers on their own connections
    errors = []

    def writer(k):
        try:
            for i in range(15):
                audit_record(actor=None, action="test.parallel", summary=f"{k}/{i}")
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    # when they all write at once
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then every row is on one chain: consecutive, each linked to its predecessor
    assert errors == []
    assert seqs() == list(range(1, 8 * 15 + 1))
    assert list(audit_verify()) == []


# ------------------------------------------------------------------------------------------ retention
def old_rows(n: int, days: int) -> list[AuditEntry]:
    at = timezone.now() - dt.timedelta(days=days)
    return AuditEntry.objects.bulk_create([AuditEntry(action="test.old", summary=f"old {i}", at=at) for i in range(n)])


def test_prune_deletes_only_rows_past_retention_and_the_chain_still_verifies(settings):
    # given rows of 400 days ago, then recent ones, then (clock skew) one more of 400 days ago
    settings.AUDIT_RETENTION_DAYS = 365
    old = old_rows(3, 400)
    young = write(2)
    late = old_rows(1, 400)
    # when
    pruned = audit_prune()
    # then only the leading old rows went; the young ones and everything after them stay
    assert pruned == 3
    assert not AuditEntry.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert AuditEntry.objects.filter(pk__in=[r.pk for r in [*young, *late]]).count() == 3
    anchor = AuditEntry.objects.get(action=PRUNE_ACTION)
    assert anchor.changes["through_seq"] == old[-1].seq and anchor.changes["last_hash"] == old[-1].hash
    assert list(audit_verify()) == []
    assert not AuditPrunePermit.objects.exists()
    # and nothing more goes on a second run
    assert audit_prune() == 0


def test_the_trigger_never_lets_a_young_row_go_even_with_a_permit():
    # given a row of 100 days ago and a permit that would allow it
    row = old_rows(1, 100)[0]
    AuditPrunePermit.objects.create(before=timezone.now() + dt.timedelta(days=1))
    # when / then
    with pytest.raises(DatabaseError), transaction.atomic():
        raw("DELETE FROM core_auditentry WHERE id = %s", [row.pk])
    assert AuditEntry.objects.filter(pk=row.pk).exists()


def test_an_old_row_goes_only_with_a_permit():
    # given a row older than 180 days and no permit
    row = old_rows(1, 200)[0]
    # when / then
    with pytest.raises(DatabaseError), transaction.atomic():
        raw("DELETE FROM core_auditentry WHERE id = %s", [row.pk])
    assert AuditEntry.objects.filter(pk=row.pk).exists()


def test_retention_below_180_days_is_refused(settings):
    # given
    settings.AUDIT_RETENTION_DAYS = 90
    old_rows(2, 120)
    # when / then: the setting is refused by the service, the command and the system check
    with pytest.raises(ImproperlyConfigured):
        audit_retention_days()
    with pytest.raises(CommandError, match="at least 180"):
        call_command("audit_prune")
    assert [e.id for e in audit_retention(None)] == ["gridgov.E011"]
    assert AuditEntry.objects.filter(action="test.old").count() == 2


def test_the_first_row_starts_from_the_genesis_hash():
    # given an empty log (what a fresh installation has)
    if AuditEntry.objects.exists():
        pytest.skip("rows from the migrations")
    # when
    row = write(1)[0]
    # then
    assert row.seq == 1 and row.prev_hash == GENESIS


def test_the_daily_job_prunes_like_the_command(settings):
    # given
    from gridgov.core.tasks import audit_prune_task

    settings.AUDIT_RETENTION_DAYS = 180
    old = old_rows(2, 365)
    young = write(1)
    # when the periodic job runs
    pruned = audit_prune_task.call_local()
    # then
    assert pruned == 2
    assert not AuditEntry.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert AuditEntry.objects.filter(pk=young[0].pk).exists()
    assert list(audit_verify()) == []
