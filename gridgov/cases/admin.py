"""Cases in the admin: read-only (a case changes only through its actions: the API and the pages), scoped
to the user's territory; the loop's configuration — policy, routing rules, grants — is edited here."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gridgov.cases.grants import event_view, owner_shown, sees_reporter, sees_tracking_code
from gridgov.cases.models import (
    ActionGrant,
    Case,
    CaseEvent,
    CasePolicy,
    CaseStage,
    Notification,
    RoutingRule,
)
from gridgov.cases.selectors import case_scope
from gridgov.cases.services import (
    action_grant_delete,
    action_grant_save,
    case_policy_delete,
    case_policy_save,
    routing_rule_delete,
    routing_rule_save,
)
from gridgov.cases.services.routing_rules import routing_rule_kept
from gridgov.core.admin import AuditedAdminMixin, ReadOnlyAdminMixin


class StageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CaseStage
    extra = 0
    fields = ["order", "name_zh", "amount", "unit", "started_at", "due_at", "warn_at", "completed_at", "status"]
    readonly_fields = fields


class EventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CaseEvent
    extra = 0
    fields = ["seq", "kind", "at", "actor_role", "from_state", "to_state", "note"]
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["number_display", "state", "matter", "node", "channel", "report_level", "sla_status", "due_at",
                    "reported_at"]
    list_filter = ["state", "sla_status", "channel", "report_level", "handling_mode", "publication"]
    search_fields = ["matter__code", "node__code"]
    date_hierarchy = "reported_at"
    # the reporter's sealed contact is never shown here; the API reveals it with a purpose, logged
    exclude = ["reporter_name_sealed", "reporter_phone_sealed"]
    inlines = [StageInline, EventInline]

    def get_exclude(self, request, obj=None):
        """Who reported and the tracking code follow the same rules as the pages and the API: the reporter
        (and an owner who is the reporter) only for those allowed to see who reported, the tracking code
        never for one who handled the case."""
        hidden = list(self.exclude)
        if obj is None or not sees_reporter(request.user, obj):
            hidden += ["reporter", "reporter_phone_masked", "anonymous"]
            if obj is None or not owner_shown(obj, sees=False):
                hidden.append("owner")
        if obj is None or not sees_tracking_code(request.user, obj):
            hidden.append("tracking_code")
        return hidden

    @admin.display(description=_("case number"))
    def number_display(self, obj):
        return obj.number

    def get_queryset(self, request):
        return case_scope(super().get_queryset(request), request.user).select_related("matter", "node")


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["case", "seq", "kind", "at", "actor_role", "from_state", "to_state"]
    list_filter = ["kind"]

    def get_exclude(self, request, obj=None):
        """An event that would name the reporter (its actor, an owner who is the reporter) shows neither its
        actor nor its values to one who may not see who reported."""
        if obj is None or sees_reporter(request.user, obj.case):
            return []
        view = event_view(obj, obj.case, sees=False)
        return (["actor", "actor_role"] if view.hides_actor else []) + (
            ["old_values", "new_values"] if view.hides_values else [])

    def get_queryset(self, request):
        return super().get_queryset(request).filter(case__in=case_scope(Case.objects.all(), request.user))


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["recipient", "case", "kind", "created_at", "read_at"]
    list_filter = ["kind"]


@admin.register(CasePolicy)
class CasePolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["scheme", "warning_share", "duplicate_radius_m", "duplicate_window_hours",
                    "escalate_when_overdue"]

    def audited_save(self, obj, *, actor, address):
        return case_policy_save(obj, actor=actor, address=address)

    def audited_delete(self, obj, *, actor, address):
        return case_policy_delete(obj, actor=actor, address=address)


@admin.register(RoutingRule)
class RoutingRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Saved (list edits too) and deleted through `services.routing_rules`, like the API."""

    list_display = ["scheme", "order", "name", "active", "matter", "category", "node", "channel", "target",
                    "department"]
    list_filter = ["scheme", "active", "target"]
    list_editable = ["active"]
    raw_id_fields = ["matter", "node"]

    def audited_save(self, obj, *, actor, address):
        return routing_rule_save(obj, actor=actor, address=address)

    def audited_delete(self, obj, *, actor, address):
        return routing_rule_delete(obj, actor=actor, address=address)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or routing_rule_kept(obj) is None)


@admin.register(ActionGrant)
class ActionGrantAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["action", "holder", "role", "role_category", "level", "scheme", "sees_reporter"]
    list_filter = ["action", "holder", "scheme"]

    def audited_save(self, obj, *, actor, address):
        return action_grant_save(obj, actor=actor, address=address)

    def audited_delete(self, obj, *, actor, address):
        return action_grant_delete(obj, actor=actor, address=address)
