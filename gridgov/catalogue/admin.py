from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from gridgov.catalogue import admission
from gridgov.catalogue.models import (
    AdmissionRequest,
    AdmissionState,
    Catalogue,
    Category,
    DutyList,
    DutyListEntry,
    Matter,
    MatterStage,
    SchemeCatalogue,
)
from gridgov.catalogue.services import scheme_catalogue_delete, scheme_catalogue_save
from gridgov.core.admin import AuditedAdminMixin, ServiceAdminMixin, ServiceModelForm


class ReadOnly:
    """Catalogues change through `catalogue_load` (file or command), which validates codes, conditions and
    stages together; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StageInline(ReadOnly, admin.TabularInline):
    model = MatterStage
    extra = 0
    fields = ["order", "name_zh", "name_en", "amount", "unit", "closing_condition"]


@admin.register(Catalogue)
class CatalogueAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["key", "name_zh", "name_en", "version", "updated_at"]


@admin.register(SchemeCatalogue)
class SchemeCatalogueAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Which catalogue each scheme uses (no row: the shipped default); every change audited."""

    list_display = ["scheme", "catalogue"]
    list_select_related = ["scheme", "catalogue"]

    def audited_save(self, obj, *, actor, address):
        return scheme_catalogue_save(obj, actor=actor, address=address)

    def audited_delete(self, obj, *, actor, address):
        return scheme_catalogue_delete(obj, actor=actor, address=address)


@admin.register(Category)
class CategoryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "kind", "catalogue"]
    list_filter = ["catalogue", "kind"]


@admin.register(Matter)
class MatterAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["code", "name_zh", "category", "report_level", "duty_tier", "department", "handling_mode", "active"]
    list_filter = ["catalogue", "category__kind", "report_level", "duty_tier", "handling_mode", "active", "public_feed",
                   "public_space"]
    search_fields = ["code", "name_zh", "name_en", "department"]
    inlines = [StageInline]


# --------------------------------------------------------------------------- duty lists and admission
class EntryInline(ReadOnly, admin.TabularInline):
    """The matters on the list and the versions they were on it; changed only by admission requests."""

    model = DutyListEntry
    extra = 0
    fields = ["matter", "added_version", "removed_version", "request"]
    readonly_fields = fields
    ordering = ["removed_version", "matter__code"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("matter", "request")


class DutyListAddForm(ServiceModelForm):
    class Meta:
        model = DutyList
        fields = ["scheme", "key", "name_zh", "name_en", "duty_tier", "admits_to_grid", "order"]

    def write(self):
        data = self.cleaned_data
        return admission.duty_list_create(scheme=data["scheme"], key=data["key"], name_zh=data["name_zh"],
                                          name_en=data.get("name_en", ""), duty_tier=data["duty_tier"],
                                          admits_to_grid=data.get("admits_to_grid", False),
                                          order=data.get("order") or 0, actor=self.actor)


@admin.register(DutyList)
class DutyListAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Lists are created through `duty_list_create`; their names, order and whether they admit to the grid
    may be edited; their matters change only through approved admission requests."""

    list_display = ["key", "name_zh", "scheme", "duty_tier", "admits_to_grid", "order", "version"]
    list_filter = ["scheme", "duty_tier", "admits_to_grid"]
    search_fields = ["key", "name_zh", "name_en"]
    list_select_related = ["scheme"]
    inlines = [EntryInline]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = DutyListAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["scheme", "key", "version"] if obj is not None else []

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # the list's history (entries, requests) stays


class DecisionForm(forms.Form):
    reason = forms.CharField(label=_("reason for the decision"), widget=forms.Textarea(attrs={"rows": 3}),
                             required=False)


@admin.register(AdmissionRequest)
class AdmissionRequestAdmin(admin.ModelAdmin):
    """Read-only: requests are made through the API (or `admission_apply`); the grid office decides
    them here with the actions, which call `admission_decide`."""

    list_display = ["id", "change", "matter", "duty_list", "department", "state", "applied_by", "applied_at",
                    "decided_by", "list_version"]
    list_filter = ["state", "change", "duty_list__scheme", "duty_list"]
    search_fields = ["matter__code", "matter__name_zh", "reason"]
    list_select_related = ["matter", "duty_list", "department", "applied_by", "decided_by"]
    actions = ["approve", "reject"]

    def get_queryset(self, request):
        return admission.admission_request_scope(super().get_queryset(request), request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_decide_permission(self, request):
        return admission.admission_may_decide(request.user)

    def _decide(self, request, queryset, *, approve: bool, title: str, action: str):
        form = DecisionForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done, failures = 0, []
            for pending in queryset.order_by("applied_at", "id"):
                try:
                    admission.admission_decide(actor=request.user, request=pending, approve=approve,
                                               reason=form.cleaned_data["reason"])
                    done += 1
                except (ValidationError, PermissionDenied) as exc:
                    reasons = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                    failures.append(f"#{pending.pk} {pending.matter.code}: {reasons}")
            if done:
                self.message_user(request, ngettext("%(n)d request decided.", "%(n)d requests decided.", done)
                                  % {"n": done}, messages.SUCCESS)
            for failure in failures:
                self.message_user(request, gettext("Not decided: %(why)s") % {"why": failure}, messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "requests": queryset.select_related("matter", "duty_list"),
            "pending": AdmissionState.PENDING,
            "form": form,
            "action": action,
            "approve": approve,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/catalogue/admissionrequest/decide.html", context)

    @admin.action(description=_("Approve the selected requests"), permissions=["decide"])
    def approve(self, request, queryset):
        return self._decide(request, queryset, approve=True, title=gettext("Approve admission requests"),
                            action="approve")

    @admin.action(description=_("Reject the selected requests"), permissions=["decide"])
    def reject(self, request, queryset):
        return self._decide(request, queryset, approve=False, title=gettext("Reject admission requests"),
                            action="reject")
