"""System checks of the deployment's own settings."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning as CheckWarning
from django.core.checks import register


@register("gridgov")
def site_url_set(app_configs, **kwargs):
    """QR codes on printed cell cards and links in SMS need the public address; without SITE_URL the cards
    take it from each request, which is right only if staff print them from the public address."""
    if settings.SITE_URL:
        return []
    return [CheckWarning(
        "SITE_URL is not set: printed cell cards take their QR code's address from the request that printed "
        "them, and SMS to reporters carry the tracking page's path without the site's address",
        hint="Set SITE_URL to the public address residents reach, e.g. SITE_URL=https://grid.example.gov.cn",
        id="core.W001")]
