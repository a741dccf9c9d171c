"""Writing, verifying and pruning the security audit log. Called explicitly by services, in their
transaction.

The chain: row n stores `hash = sha256(canonical(row n) + prev_hash)` with `prev_hash` = hash of row
n-1 (`GENESIS` for the first row, or the hash named by the latest prune anchor). Appending locks the one
`AuditChainHead` row first (an UPDATE, a row lock on PostgreSQL and the write lock on SQLite), so two
writers never read the same head; bulk writes are chained row by row under the same lock."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from gridgov.core.models import (  # the chain itself lives with the model it guards
    GENESIS,
    AuditChainHead,
    AuditEntry,
    AuditPrunePermit,
    audit_append,
    audit_chain_lock,
    entry_digest_of,
)

MIN_RETENTION_DAYS = 180
PRUNE_ACTION = "audit.pruned"


def audit_record(*, actor, action: str, target=None, summary: str = "", changes: dict[str, Any] | None = None,
                 address: str | None = None) -> AuditEntry:
    """One audit row. `target` may be None for events about no stored record (a failed login for an
    unknown name); `address` is the client address of the request, when there is one."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return audit_append([AuditEntry(
        actor=user,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary,
        changes=changes or {},
        address=address or None,
    )])[0]


# ------------------------------------------------------------------------------------ settings with history
def record_values(obj) -> dict[str, Any]:
    """A stored row's field values as JSON (related rows by primary key), as read from the database now;
    {} for a row not saved yet."""
    from django.forms.models import model_to_dict

    fresh = type(obj)._default_manager.filter(pk=obj.pk).first() if obj.pk is not None else None
    if fresh is None:
        return {}
    out = {}
    for key, value in model_to_dict(fresh).items():
        if isinstance(value, list | tuple | set) or hasattr(value, "all"):
            items = value.all() if hasattr(value, "all") else value
            value = sorted(getattr(v, "pk", v) for v in items)
        elif hasattr(value, "pk"):
            value = value.pk
        out[key] = value
    return json.loads(json.dumps(out, default=str))


def setting_save(obj, *, actor, address: str | None = None, save=None) -> AuditEntry | None:
    """Save a settings row (`save()` by default) and audit it in the same transaction: action
    `<app>.<model>_add|change` with the old and new values of the fields that changed (none: no row)."""
    with transaction.atomic():
        before = record_values(obj)
        (save or obj.save)()
        after = record_values(obj)
        changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
        if not changes:
            return None
        return audit_record(actor=actor, action=f"{obj._meta.label_lower}_{'change' if before else 'add'}",
                            target=obj, summary=str(obj)[:300], changes=changes, address=address)


def setting_delete(obj, *, actor, address: str | None = None) -> AuditEntry:
    """Delete a settings row and audit it (`<app>.<model>_delete`, every old value) in one transaction."""
    with transaction.atomic():
        before, pk = record_values(obj), obj.pk
        obj.delete()
        obj.pk = pk  # the deletion cleared it; the audit row names the row that was
        return audit_record(actor=actor, action=f"{obj._meta.label_lower}_delete", target=obj,
                            summary=str(obj)[:300], changes={k: [v, None] for k, v in before.items()},
                            address=address)


# ------------------------------------------------------------------------------------------ verifying
@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    entry_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"seq {self.seq} (id {self.entry_id})" if self.seq is not None else "chain"
        return f"{where}: {self.reason}"


def audit_verify(*, chunk: int = 2000) -> Iterator[ChainProblem]:
    """Every problem of the chain: a row whose content no longer matches its hash (altered), a link to a
    hash that is not the previous row's (a row removed or inserted), a gap in the sequence (removed rows),
    a start that no prune anchor explains (the oldest rows removed), a head that does not name the newest
    row (the newest rows removed)."""
    rows = AuditEntry.objects.order_by("seq")
    first = rows.values("seq", "prev_hash", "id").first()
    if first is None:
        head = AuditChainHead.objects.filter(pk=1).first()
        if head is not None and head.seq:
            yield ChainProblem(None, None, f"the log is empty but its head names row {head.seq}")
        return
    if first["seq"] != 1 or first["prev_hash"] != GENESIS:
        anchors = AuditEntry.objects.filter(action=PRUNE_ACTION).values_list("changes", flat=True)
        if not any(a.get("through_seq") == first["seq"] - 1 and a.get("last_hash") == first["prev_hash"]
                   for a in anchors):
            yield ChainProblem(first["seq"], first["id"],
                               "the oldest rows are missing and no prune anchor names the hash they ended with")
    prev_seq, prev_hash = None, first["prev_hash"]
    last = 0
    while True:
        batch = list(rows.filter(seq__gt=last)[:chunk])
        if not batch:
            break
        for entry in batch:
            if prev_seq is not None and entry.seq != prev_seq + 1:
                yield ChainProblem(entry.seq, entry.id, f"rows {prev_seq + 1}–{entry.seq - 1} are missing")
            if entry.prev_hash != prev_hash:
                yield ChainProblem(entry.seq, entry.id, "links to a hash that is not the previous row's")
            if entry_digest_of(entry) != entry.hash:
                yield ChainProblem(entry.seq, entry.id, "its content was altered (hash mismatch)")
            prev_seq, prev_hash = entry.seq, entry.hash
        last = batch[-1].seq
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None or head.seq != prev_seq or head.hash != prev_hash:
        yield ChainProblem(None, None, f"the head names row {head.seq if head else '—'}, the newest row is "
                                       f"{prev_seq}: rows after it were removed")


# ------------------------------------------------------------------------------------------ retention
def audit_retention_days() -> int:
    """`AUDIT_RETENTION_DAYS`, refusing less than MLPS's 180 days."""
    days = int(getattr(settings, "AUDIT_RETENTION_DAYS", MIN_RETENTION_DAYS))
    if days < MIN_RETENTION_DAYS:
        raise ImproperlyConfigured(f"AUDIT_RETENTION_DAYS is {days}: the audit log is kept at least "
                                   f"{MIN_RETENTION_DAYS} days")
    return days


def audit_prune(*, now: dt.datetime | None = None, actor=None) -> int:
    """Delete the oldest rows older than the retention period, oldest first and without holes (a row is
    kept, and every row after it, as soon as one is younger), then write an anchor row naming the last
    pruned hash so the chain still verifies. Returns how many rows went."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=audit_retention_days())
    with transaction.atomic():
        audit_chain_lock()
        young = AuditEntry.objects.filter(at__gte=cutoff).order_by("seq").values_list("seq", flat=True).first()
        doomed = AuditEntry.objects.filter(at__lt=cutoff)
        if young is not None:
            doomed = doomed.filter(seq__lt=young)
        last = doomed.order_by("-seq").values("seq", "hash").first()
        if last is None:
            return 0
        permit = AuditPrunePermit.objects.create(before=cutoff)
        count = doomed.delete()[0]
        permit.delete()
        audit_record(actor=actor, action=PRUNE_ACTION, summary=f"pruned {count} rows before {cutoff:%Y-%m-%d}",
                     changes={"through_seq": last["seq"], "last_hash": last["hash"], "count": count,
                              "before": cutoff.isoformat()})
    return count
