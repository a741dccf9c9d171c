"""The access log in the admin: read-only, scoped to the user's territory."""

from __future__ import annotations

from django.contrib import admin

from gridgov.core.admin import ReadOnlyAdminMixin
from gridgov.privacy.models import AccessLog
from gridgov.privacy.selectors import access_log_scope


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "user", "kind", "record_type", "record_id", "node", "fields", "purpose", "rows"]
    list_filter = ["kind", "record_type"]
    search_fields = ["=user__username", "=record_id"]
    list_select_related = ["user", "node"]
    date_hierarchy = "at"
    fields = ["at", "user", "kind", "record_type", "record_id", "node", "fields", "purpose", "rows", "detail",
              "remote_addr"]
    readonly_fields = fields

    def get_queryset(self, request):
        return access_log_scope(super().get_queryset(request), request.user)
