"""Machine clients that send cases in: Open311 apps, the 12345 hotline bridge, police and camera
systems. Each has an API key, stored only as a digest, and acts as a service login of its own."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.cases.models import Channel


class ApiClient(models.Model):
    name = models.CharField(_("name"), max_length=100)
    scheme = models.ForeignKey("territory.LevelScheme", on_delete=models.CASCADE, related_name="api_clients",
                               verbose_name=_("scheme (Open311 jurisdiction)"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.OPEN311)
    key_digest = models.CharField(_("key digest"), max_length=64, unique=True)
    key_prefix = models.CharField(_("key starts with"), max_length=8)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_clients",
                             verbose_name=_("acts as"))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"
