"""Admin of machine clients. A key is shown once, by `manage.py api_client_create`; the admin shows
only its first characters and digest, and disables clients through the service."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from gridgov.integrations.models import ApiClient
from gridgov.integrations.services import api_client_disable


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["name", "scheme", "channel", "key_prefix", "user", "active", "created_at", "last_used_at"]
    list_filter = ["active", "channel", "scheme"]
    search_fields = ["name", "key_prefix", "user__username"]
    list_select_related = ["scheme", "user"]
    fields = ["name", "scheme", "channel", "user", "key_prefix", "key_digest", "active", "created_at",
              "last_used_at"]
    readonly_fields = fields
    actions = ["disable"]

    def has_add_permission(self, request):
        return False  # a key is issued by `manage.py api_client_create`, which shows it once

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # disable instead: the cases a client filed keep pointing at its login

    def has_disable_permission(self, request):
        return request.user.has_perm("integrations.change_apiclient")

    @admin.action(description=_("Disable the selected clients (their keys are refused from now on)"),
                  permissions=["disable"])
    def disable(self, request, queryset):
        count = 0
        for client in queryset.filter(active=True):
            api_client_disable(client=client, actor=request.user)
            count += 1
        self.message_user(request, ngettext("%(n)d client disabled.", "%(n)d clients disabled.", count) % {"n": count})
