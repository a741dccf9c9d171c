"""Who may read the API's schema and interactive documentation (`/api/schema/`, `/api/docs/`).

Open in development (schemathesis and client authors read it); staff only where `API_DOCS_STAFF_ONLY` is
set, as the production settings do: the schema maps every endpoint and parameter for an attacker."""

from __future__ import annotations

from django.conf import settings
from rest_framework.permissions import BasePermission


class ApiDocsPermission(BasePermission):
    message = "The API documentation is for staff only."

    def has_permission(self, request, view) -> bool:
        if not getattr(settings, "API_DOCS_STAFF_ONLY", False):
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)
