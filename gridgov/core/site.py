"""The site's public address, for what leaves the browser: QR codes on printed cards, links in SMS."""

from __future__ import annotations

from django.conf import settings


def site_base_url(request=None) -> str:
    """`SITE_URL` when set; otherwise the address the request came in on (scheme and Host header, which
    Django checks against ALLOWED_HOSTS), so a card printed from http://192.168.1.20:8000/ points there and
    never to 127.0.0.1 unless the request did. "" without either (a path relative to the site)."""
    if settings.SITE_URL:
        return settings.SITE_URL
    if request is not None:
        return f"{request.scheme}://{request.get_host()}"
    return ""
