"""Admin plumbing shared by every app, and the audit log (strictly read-only).

Forms whose writes go through a service: Django's admin only shows errors raised while the form is
validated, and it saves after validation. So `ServiceModelForm` calls the service as the last step of
validation (`write()`), inside the admin's request transaction, and turns the service's
`ValidationError({field: [reason]})` into errors on the named fields. The service runs once; when it
refuses, its own transaction has rolled back and nothing is written. `ServiceAdminMixin.save_model`
then only keeps the object the service returned."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.selectors import user_scope_paths
from gridgov.core.models import AuditEntry

admin.site.site_header = _("gridgov administration")
admin.site.site_title = _("gridgov")
admin.site.index_title = _("Grid-based community governance")


def service_errors_to_form(form: forms.BaseForm, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: on the field it names when the form has it, else
    at the top of the form prefixed with the field's name."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.error_dict.items():
        messages = [m for e in errors for m in e.messages]
        if field in form.fields:
            form.add_error(field, messages)
            continue
        try:
            label = form._meta.model._meta.get_field(field).verbose_name
        except (AttributeError, FieldDoesNotExist):
            label = None
        form.add_error(None, [f"{label}: {m}" if label else m for m in messages])


class ServiceModelForm(forms.ModelForm):
    """A ModelForm written by a service. Subclasses implement `write()` returning the saved object;
    the model's own validation is left to the service (it knows the invariants and names the field)."""

    actor = None  # the request's user, set by ServiceAdminMixin.get_form

    def write(self):
        raise NotImplementedError

    def _post_clean(self):
        if self._errors:
            return
        try:
            self.instance = self.write()
        except ValidationError as exc:
            service_errors_to_form(self, exc)


class ServiceAdminMixin:
    """ModelAdmin side of ServiceModelForm: hand the user to the form; saving is already done."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        # modelform_factory builds a new class per request, so this does not leak between requests
        form.actor = request.user
        return form

    def save_model(self, request, obj, form, change):
        if not isinstance(form, ServiceModelForm):
            super().save_model(request, obj, form, change)
        # else: written by the service in form.write(); `obj` is what it returned

    def save_related(self, request, form, formsets, change):
        if not isinstance(form, ServiceModelForm):
            super().save_related(request, form, formsets, change)


class ReadOnlyAdminMixin:
    """Viewable, never added, changed or deleted from the admin (history, logs, issued codes)."""

    actions = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "actor", "action", "target_type", "target_id", "summary"]
    list_filter = ["action", "target_type"]
    search_fields = ["=target_id", "action", "=actor__username"]
    date_hierarchy = "at"
    list_select_related = ["actor"]
    fields = ["at", "actor", "action", "target_type", "target_id", "summary", "changes"]
    readonly_fields = fields

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        # district-wide staff read the whole log; others only what they did themselves
        if user_scope_paths(request.user) is None:
            return qs
        return qs.filter(actor=request.user)
