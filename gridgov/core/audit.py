"""Writing, verifying and pruning the security audit log. Called explicitly by services, in their
transaction.

The chain: row n stores `hash = sha256(canonical(row n) + prev_hash)` with `prev_hash` = hash of row
n-1 (`GENESIS` for the first row, or the hash named by the latest prune anchor). Appending locks the one
`AuditChainHead` row first (an UPDATE, a row lock on PostgreSQL and the write lock on SQLite), so two
writers never read the same head; bulk writes are chained row by row under the same lock."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from gridgov.core.models import GENESIS, AuditChainHead, AuditEntry, AuditPrunePermit

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


# ------------------------------------------------------------------------------------------ the chain
def _canonical_at(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_digest(*, seq: int, at: dt.datetime, actor_id: int | None, action: str, target_type: str, target_id: str,
                 summary: str, changes: Any, address: str | None, prev_hash: str) -> str:
    """The hash of one row: its canonical content (sorted-key JSON, UTC microseconds) and the previous hash."""
    body = json.dumps({
        "seq": seq, "at": _canonical_at(at), "actor": actor_id, "action": action, "target_type": target_type,
        "target_id": target_id, "summary": summary, "changes": changes, "address": address, "prev": prev_hash,
    }, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _digest_of(entry: AuditEntry) -> str:
    return entry_digest(seq=entry.seq, at=entry.at, actor_id=entry.actor_id, action=entry.action,
                        target_type=entry.target_type, target_id=entry.target_id, summary=entry.summary,
                        changes=entry.changes, address=entry.address, prev_hash=entry.prev_hash)


def _lock_head() -> AuditChainHead:
    """Lock the chain head (creating it on the very first write, or after it was lost: then it is
    rebuilt from the newest row, which `audit_verify` would flag if that row is not the true end)."""
    for _attempt in range(2):
        if AuditChainHead.objects.filter(pk=1).update(seq=F("seq")):
            return AuditChainHead.objects.get(pk=1)
        last = AuditEntry.objects.order_by("-seq").values("seq", "hash").first() or {"seq": 0, "hash": GENESIS}
        try:
            with transaction.atomic():
                AuditChainHead.objects.create(pk=1, seq=last["seq"], hash=last["hash"])
        except IntegrityError:
            continue  # another writer created it meanwhile: lock theirs
    return AuditChainHead.objects.select_for_update().get(pk=1)


def _normalise(entry: AuditEntry) -> None:
    field = AuditEntry._meta.get_field
    entry.summary = (entry.summary or "")[:300]
    # what the database gives back: JSON values, a normalised address, microsecond UTC time
    entry.changes = json.loads(json.dumps(entry.changes or {}, ensure_ascii=False, default=str))
    entry.address = field("address").to_python(entry.address) if entry.address else None
    entry.target_type = entry.target_type or ""
    entry.target_id = str(entry.target_id or "")
    if entry.at is None:
        entry.at = timezone.now()


def audit_append(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Chain and insert `entries` (unsaved rows) in order, under the head lock, in one transaction."""
    if not entries:
        return []
    with transaction.atomic():
        head = _lock_head()
        seq, prev = head.seq, head.hash
        for entry in entries:
            if entry.pk is not None:
                raise ValueError("audit rows are appended, never saved again")
            _normalise(entry)
            seq += 1
            entry.seq, entry.prev_hash = seq, prev
            entry.hash = prev = _digest_of(entry)
        created = super(type(AuditEntry.objects), AuditEntry.objects).bulk_create(entries)
        AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev)
    return created


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
            if _digest_of(entry) != entry.hash:
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
        _lock_head()
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
