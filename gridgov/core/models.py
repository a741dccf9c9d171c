"""Cross-cutting records: the security audit log of who did what to which record.

The log is append-only (database triggers, `core.db`) and tamper-evident: every row stores the SHA-256
of its canonical content and of the previous row's hash (`core.audit`), written under a lock on the
chain head so concurrent writers never fork the chain; `manage.py audit_verify` recomputes it. Old rows
leave only through `audit_prune` (at least `AUDIT_RETENTION_DAYS` >= 180 old), which writes an anchor row
naming the last pruned hash so the rest still verifies."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

GENESIS = "0" * 64


class AuditEntryManager(models.Manager):
    """Every way of adding rows through the ORM goes through the hash chain (`core.audit.audit_append`)."""

    def create(self, **kwargs):
        from gridgov.core.audit import audit_append

        return audit_append([self.model(**kwargs)])[0]

    def bulk_create(self, objs, *args, **kwargs):
        from gridgov.core.audit import audit_append

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
