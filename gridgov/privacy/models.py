"""The log of access to personal data: who saw, exported, imported, searched or erased it, and why.

`AccessLog` is append-only: database triggers (`core.db`) refuse UPDATE and DELETE of a row."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AccessKind(models.TextChoices):
    REVEAL = "REVEAL", _("Revealed")
    EXPORT = "EXPORT", _("Exported")
    EXPORT_REVEALED = "EXPORT_REVEALED", _("Exported unmasked")
    IMPORT = "IMPORT", _("Imported")
    ERASE = "ERASE", _("Erased")
    SEARCH = "SEARCH", _("Searched by personal data")
    DOWNLOAD = "DOWNLOAD", _("Downloaded an unmasked export")


class AccessLog(models.Model):
    """Append-only log of access to personal data: every reveal (who, when, which record, which field,
    the stated purpose), every export, every download of an unmasked export, every search by ID number,
    phone or name (its purpose and the records it found, never the value searched) and every erasure. Database triggers refuse UPDATE and DELETE, so
    nothing in the application (admin, API, shell through the ORM) can alter or remove an entry."""

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=16, choices=AccessKind.choices)
    record_type = models.CharField(_("record type"), max_length=40, blank=True)
    record_id = models.BigIntegerField(_("record id"), null=True, blank=True)
    node = models.ForeignKey("territory.Node", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("cell"))
    fields = models.CharField(_("fields"), max_length=200, blank=True)
    purpose = models.CharField(_("stated purpose"), max_length=300)
    rows = models.PositiveIntegerField(_("rows"), null=True, blank=True, help_text=_("For exports and imports"))
    detail = models.JSONField(_("detail"), default=dict, blank=True,
                              help_text=_("Filters of an export, job of an import; never personal data"))
    remote_addr = models.GenericIPAddressField(_("address"), null=True, blank=True)

    class Meta:
        db_table = "people_accesslog"  # the table it had in `people` (rows, triggers and indexes kept)
        verbose_name = _("personal-data access")
        verbose_name_plural = _("personal-data access log")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["record_type", "record_id"], name="access_record_idx"),
                   models.Index(fields=["user", "at"], name="access_user_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.record_type}#{self.record_id or ''}"
