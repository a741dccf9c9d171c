"""Cross-cutting records: the security audit log of who did what to which record.

The log is append-only (database triggers, `core.db`) and tamper-evident: every row stores the SHA-256
of its canonical content and of the previous row's hash (`audit_append`, here beside the model), written under a lock on the
chain head so concurrent writers never fork the chain; `manage.py audit_verify` recomputes it. Old rows
leave only through `audit_prune` (at least `AUDIT_RETENTION_DAYS` >= 180 old), which writes an anchor row
naming the last pruned hash so the rest still verifies."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

GENESIS = "0" * 64


class AuditEntryManager(models.Manager):
    """Every way of adding rows through the ORM goes through the hash chain (`audit_append` below)."""

    def create(self, **kwargs):
        return audit_append([self.model(**kwargs)])[0]

    def bulk_create(self, objs, *args, **kwargs):
        return audit_append(list(objs))


class AuditEntry(models.Model):
    """Append-only: who did what to which record. Never holds personal data in `summary`/`changes`
    beyond identifiers; the admin shows it read-only and nothing in the application updates it."""

    seq = models.PositiveBigIntegerField(_("sequence"), unique=True, editable=False)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("actor"))
    action = models.CharField(_("action"), max_length=60)
    target_type = models.CharField(_("record type"), max_length=60, blank=True)
    target_id = models.CharField(_("record id"), max_length=40, blank=True)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    address = models.GenericIPAddressField(_("address"), null=True, blank=True,
                                           help_text=_("The client address of the request that did it, if any"))
    prev_hash = models.CharField(_("previous hash"), max_length=64, editable=False)
    hash = models.CharField(_("hash"), max_length=64, editable=False)

    objects = AuditEntryManager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-seq"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]
        permissions = [("export_auditentry", "Can export the audit log")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target_type}#{self.target_id}"


class AuditChainHead(models.Model):
    """The last link of the chain (one row). Writers lock it before appending, which serialises them on
    SQLite and PostgreSQL alike; `audit_verify` checks that it names the newest row (a cut-off tail)."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")
        default_permissions = ()

    def __str__(self) -> str:
        return f"head {self.seq}"


class AuditPrunePermit(models.Model):
    """Present only inside the pruning transaction: the triggers let a row of the audit log be deleted
    only when it is older than a permit's `before` AND older than 180 days."""

    before = models.DateTimeField()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"prune before {self.before:%Y-%m-%d}"


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


def entry_digest_of(entry: AuditEntry) -> str:
    return entry_digest(seq=entry.seq, at=entry.at, actor_id=entry.actor_id, action=entry.action,
                        target_type=entry.target_type, target_id=entry.target_id, summary=entry.summary,
                        changes=entry.changes, address=entry.address, prev_hash=entry.prev_hash)


def audit_chain_lock() -> AuditChainHead:
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
        head = audit_chain_lock()
        seq, prev = head.seq, head.hash
        for entry in entries:
            if entry.pk is not None:
                raise ValueError("audit rows are appended, never saved again")
            _normalise(entry)
            seq += 1
            entry.seq, entry.prev_hash = seq, prev
            entry.hash = prev = entry_digest_of(entry)
        created = super(type(AuditEntry.objects), AuditEntry.objects).bulk_create(entries)
        AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev)
    return created


class ConfigVersion(models.Model):
    """One counter per kind of rarely-changing setting (`core.versioned`: SCHEME, POLICY, GRANTS, CALENDAR,
    CATALOGUE, ROUTING), bumped by database triggers on every write of that kind's tables; the process caches
    compare against it. Written only by the triggers."""

    name = models.CharField(_("kind"), max_length=30, primary_key=True)
    value = models.BigIntegerField(_("version"), default=0)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("configuration version")
        verbose_name_plural = _("configuration versions")

    def __str__(self) -> str:
        return f"{self.name} {self.value}"
