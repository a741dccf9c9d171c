"""Admin plumbing shared by every app, and the audit log (strictly read-only).

Forms whose writes go through a service: Django's admin only shows errors raised while the form is
validated, and it saves after validation. So `ServiceModelForm` calls the service as the last step of
validation (`write()`), inside the admin's request transaction, and turns the service's
`ValidationError({field: [reason]})` into errors on the named fields. The service runs once; when it
refuses, its own transaction has rolled back and nothing is written. `ServiceAdminMixin.save_model`
then only keeps the object the service returned."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gridgov.core.api import client_address
from gridgov.core.models import AuditEntry

admin.site.site_header = _("gridgov administration")
admin.site.site_title = _("gridgov")
admin.site.index_title = _("Grid-based community governance")

_site_app_list = admin.site.get_app_list


def _app_list_translated(request, app_label=None):
    """The admin index, with the names of apps and models that a library ships untranslated (knox's
    "Auth tokens", named from its class) passed through our catalogue (`core.i18n.THIRD_PARTY_TEXT`)."""
    apps = _site_app_list(request, app_label)
    for app in apps:
        app["name"] = gettext(str(app["name"]))
        for model in app["models"]:
            model["name"] = gettext(str(model["name"]))
    return apps


admin.site.get_app_list = _app_list_translated


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


class AuditedAdminMixin:
    """Settings with history: every add, change and delete made in this admin (list edits too) goes
    through `core.audit.setting_save` / `setting_delete`, or the `audited_save` / `audited_delete` of the
    admin (a domain's service), and leaves an audit row with the old and new values of the fields that
    changed (action `<app>.<model>_add|change|delete`)."""

    def audited_save(self, obj, *, actor, address):
        from gridgov.core.audit import setting_save

        return setting_save(obj, actor=actor, address=address)

    def audited_delete(self, obj, *, actor, address):
        from gridgov.core.audit import setting_delete

        return setting_delete(obj, actor=actor, address=address)

    def save_model(self, request, obj, form, change):
        self.audited_save(obj, actor=request.user, address=client_address(request))

    def delete_model(self, request, obj):
        self.audited_delete(obj, actor=request.user, address=client_address(request))

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


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
    """The security audit log, for the audit administrator (accounts.admin_roles): searched by action,
    record, actor, address or summary, filtered by date, and exported (CSV / XLSX) with the filters on
    screen. Each export is itself audited."""

    list_display = ["seq", "at", "actor", "action", "target_type", "target_id", "address", "summary"]
    list_filter = ["action", "target_type"]
    search_fields = ["=target_id", "action", "=actor__username", "=address", "summary"]
    date_hierarchy = "at"
    list_select_related = ["actor"]
    fields = ["seq", "at", "actor", "action", "target_type", "target_id", "address", "summary", "changes",
              "prev_hash", "hash"]
    readonly_fields = fields

    def get_urls(self):
        from django.urls import path

        return [path("export/", self.admin_site.admin_view(self.export_view), name="core_auditentry_export"),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        query = request.GET.copy()
        query.pop("p", None)
        extra = {"may_export": request.user.has_perm("core.export_auditentry"), "export_query": query.urlencode()}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def export_view(self, request):
        from django.core.exceptions import PermissionDenied
        from django.http import HttpResponseBadRequest
        from django.utils.translation import gettext

        from gridgov.core.audit import audit_record
        from gridgov.core.tabular import FORMATS, bilingual, tabular_response

        if not (self.has_view_permission(request) and request.user.has_perm("core.export_auditentry")):
            raise PermissionDenied
        request.GET = request.GET.copy()
        fmt = request.GET.pop("fmt", ["xlsx"])[-1]
        if fmt not in FORMATS:
            return HttpResponseBadRequest(gettext("fmt: choose one of %(f)s") % {"f": ", ".join(FORMATS)})
        rows = self.get_changelist_instance(request).get_queryset(request).order_by("seq")
        audit_record(actor=request.user, action="audit.export", summary=fmt,
                     changes={"filters": dict(request.GET.lists()), "count": rows.count()},
                     address=client_address(request))
        names = ["seq", "at", "actor", "action", "target_type", "target_id", "address", "summary", "changes", "hash"]
        headers = [bilingual(AuditEntry._meta.get_field(n).verbose_name) for n in names]

        def lines():
            for e in rows.iterator(chunk_size=2000):
                yield [e.seq, e.at, e.actor.username if e.actor_id else "", e.action, e.target_type, e.target_id,
                       e.address, e.summary, json.dumps(e.changes, ensure_ascii=False, sort_keys=True), e.hash]

        return tabular_response(fmt=fmt, filename="audit-log", title=str(AuditEntry._meta.verbose_name_plural),
                                headers=[str(h) for h in headers], rows=lines())
