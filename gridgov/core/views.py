"""Site-wide views: error pages that answer the API in JSON and people in HTML."""

from __future__ import annotations

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found


def not_found(request, exception=None):
    if request.path.startswith("/api/") or request.path.startswith("/open311/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return page_not_found(request, exception)
