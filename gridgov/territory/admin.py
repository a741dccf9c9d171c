"""Admin of the territory: schemes with their levels and vocabularies, nodes (written through
`territory.services` only), a lazily loaded tree view, a map preview, and read-only history.

Non-superusers see the nodes of their scope only (`selectors.node_scope`); a node outside it is
"not found", never "forbidden"."""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.selectors import node_public_people, user_scope_paths
from gridgov.core.admin import ReadOnlyAdminMixin, ServiceAdminMixin, ServiceModelForm
from gridgov.territory import services
from gridgov.territory.models import (
    IssuedCode,
    Level,
    LevelScheme,
    Node,
    NodeLineage,
    NodeVersion,
    Term,
    TerritoryVersion,
    Vocabulary,
)
from gridgov.territory.selectors import node_scope

MAP_CHILDREN_LIMIT = 2000  # polygons drawn under a node in the map preview
TREE_CHILDREN_LIMIT = 5000  # rows answered per expand in the tree view


# --------------------------------------------------------------------------- schemes
class LevelInline(admin.TabularInline):
    """Levels of a scheme. Once nodes exist, the code rule and depth of existing levels are fixed:
    changing them would silently invalidate stored codes and paths."""

    model = Level
    extra = 0
    fields = ["depth", "key", "name_zh", "name_en", "is_grid", "admin_rank", "code_digits"]
    ordering = ["depth"]

    def _in_use(self, obj) -> bool:
        return obj is not None and obj.pk is not None and obj.nodes.exists()

    def get_readonly_fields(self, request, obj=None):
        if self._in_use(obj):
            return ["depth", "key", "admin_rank", "code_digits"]
        return []

    def has_add_permission(self, request, obj=None):
        return not self._in_use(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._in_use(obj) and super().has_delete_permission(request, obj)


class TermInline(admin.TabularInline):
    model = Term
    extra = 0
    fields = ["vocabulary", "key", "name_zh", "name_en", "order"]


@admin.register(LevelScheme)
class LevelSchemeAdmin(admin.ModelAdmin):
    list_display = ["key", "name_zh", "name_en", "level_names", "created_at"]
    search_fields = ["key", "name_zh", "name_en"]
    inlines = [LevelInline, TermInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("levels")

    @admin.display(description=_("levels"))
    def level_names(self, obj):
        return " → ".join(level.name for level in obj.levels.all())

    def get_readonly_fields(self, request, obj=None):
        return ["key"] if obj is not None and obj.nodes.exists() else []

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.nodes.exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Term)
class TermAdmin(admin.ModelAdmin):
    list_display = ["name_zh", "name_en", "key", "vocabulary", "scheme", "order"]
    list_filter = ["scheme", "vocabulary"]
    search_fields = ["key", "name_zh", "name_en"]
    list_select_related = ["scheme"]


# --------------------------------------------------------------------------- node forms
class TermChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.scheme.key} · {obj.name} ({obj.key})"


class LevelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.scheme.key} · {obj.depth}. {obj.name}"


class GeometryField(forms.JSONField):
    """GeoJSON in a monospace text area; the service checks it and names the problem."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 80, "class": "vLargeTextField geojson",
                                   "spellcheck": "false"})

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)  # an empty box, not "null"


class NodeAddForm(ServiceModelForm):
    auto_code = forms.BooleanField(
        label=_("give the next code"), required=False,
        help_text=_("For grid-type levels: the next sequence code under the parent (leave the code empty)"))
    reason = forms.CharField(label=_("reason"), required=False, max_length=300)

    class Meta:
        model = Node
        fields = ["level", "parent", "code", "auto_code", "name", "node_type", "management_class", "geometry",
                  "attributes", "valid_from", "reason"]
        field_classes = {"level": LevelChoiceField, "node_type": TermChoiceField,
                         "management_class": TermChoiceField, "geometry": GeometryField}

    def write(self):
        data = self.cleaned_data
        if data.get("parent") is None and user_scope_paths(self.actor) is not None:
            raise ValidationError({"parent": gettext("only district-wide staff can create top-level nodes")})
        return services.node_create(
            level=data["level"], parent=data.get("parent"), name=data["name"], code=data.get("code", ""),
            auto_code=data.get("auto_code", False), geometry=data.get("geometry"),
            node_type=data.get("node_type"), management_class=data.get("management_class"),
            attributes=data.get("attributes") or {}, valid_from=data["valid_from"], actor=self.actor,
            reason=data.get("reason", ""),
        )


class NodeChangeForm(ServiceModelForm):
    effective_date = forms.DateField(label=_("effective date"), required=False,
                                     widget=admin.widgets.AdminDateWidget,
                                     help_text=_("When the change takes effect (today when empty)"))
    reason = forms.CharField(label=_("reason"), required=False, max_length=300)

    class Meta:
        model = Node
        fields = ["name", "node_type", "management_class", "geometry", "attributes", "effective_date", "reason"]
        field_classes = {"node_type": TermChoiceField, "management_class": TermChoiceField,
                         "geometry": GeometryField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("node_type", "management_class"):
            if name in self.fields:
                field = self.fields[name]
                field.queryset = field.queryset.filter(scheme=self.instance.scheme_id)

    def write(self):
        changes = {name: self.cleaned_data.get(name) for name in services.NODE_FIELDS
                   if name in self.fields and name in self.changed_data}
        if "attributes" in changes and changes["attributes"] is None:
            changes["attributes"] = {}  # an emptied box means no attributes
        if not changes:
            return self.instance
        return services.node_update(self.instance, actor=self.actor, reason=self.cleaned_data.get("reason", ""),
                                    effective_date=self.cleaned_data.get("effective_date"), **changes)


class RetireForm(forms.Form):
    effective_date = forms.DateField(label=_("effective date"), initial=timezone.localdate,
                                     widget=admin.widgets.AdminDateWidget,
                                     help_text=_("First day the cells are no longer in force"))
    reason = forms.CharField(label=_("reason"), max_length=300)


class ActiveFilter(admin.SimpleListFilter):
    title = _("in force")
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", _("in force")), ("no", _("retired"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(valid_to__isnull=True)
        if self.value() == "no":
            return queryset.filter(valid_to__isnull=False)
        return queryset


# --------------------------------------------------------------------------- nodes
@admin.register(Node)
class NodeAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "level_name", "scheme_key", "node_type_name", "management_class_name",
                    "parent_link", "in_force", "valid_from"]
    list_display_links = ["code", "name"]
    list_filter = ["scheme", "level", "node_type", "management_class", ActiveFilter]
    search_fields = ["^code", "name"]
    list_select_related = ["scheme", "level", "node_type", "management_class", "parent"]
    autocomplete_fields = ["parent"]
    actions = ["retire_nodes"]
    list_per_page = 100
    save_as = False
    change_form_template = "admin/territory/node/change_form.html"
    change_list_template = "admin/territory/node/change_list.html"

    def view_on_site(self, obj):
        # "View on site" opens the public cell card
        if obj.is_active and obj.code:
            return reverse("territory:cell-card", args=[obj.scheme.key, obj.code])
        return None

    # ---- queryset and permissions
    def get_queryset(self, request):
        return node_scope(super().get_queryset(request), request.user)

    def has_delete_permission(self, request, obj=None):
        # nodes are retired, never deleted: their codes and history must stay
        return False

    def has_change_permission(self, request, obj=None):
        # a retired node is history: it is shown read-only
        if obj is not None and not obj.is_active:
            return False
        return super().has_change_permission(request, obj)

    def has_reorganise_permission(self, request):
        return request.user.has_perm("territory.reorganise_node")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # ---- forms
    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = NodeChangeForm if obj is not None else NodeAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["level", "parent", ("code", "auto_code"), "name"]}),
                (_("Classification"), {"fields": ["node_type", "management_class"]}),
                (_("Boundary and attributes"), {"fields": ["geometry", "attributes"]}),
                (_("In force"), {"fields": ["valid_from", "reason"]}),
            ]
        editable = self.has_change_permission(request, obj)
        main = ["scheme", "level", "parent_link", "code", "name"]
        sets = [
            (None, {"fields": main}),
            (_("Classification"), {"fields": ["node_type", "management_class"]}),
            (_("People in charge"), {"fields": ["people_in_charge"]}),
            (_("Boundary and attributes"), {"fields": ["geometry", "area", "centroid", "attributes"]}),
            (_("In force"), {"fields": ["valid_from", "valid_to", "public_card", "children_count", "path"]}),
        ]
        if editable:
            sets.append((_("This change"), {"fields": ["effective_date", "reason"]}))
        return sets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["scheme", "level", "parent_link", "code", "area", "centroid", "valid_from", "valid_to",
                "public_card", "children_count", "path", "people_in_charge"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "node_type":
            kwargs["queryset"] = Term.objects.filter(vocabulary=Vocabulary.NODE_TYPE).select_related("scheme")
        elif db_field.name == "management_class":
            kwargs["queryset"] = Term.objects.filter(vocabulary=Vocabulary.MANAGEMENT_CLASS).select_related("scheme")
        elif db_field.name == "parent":
            # what the autocomplete offers is scoped by get_queryset; what is accepted must be too
            kwargs["queryset"] = node_scope(Node.objects.current(), request.user)
        elif db_field.name == "level":
            kwargs["queryset"] = Level.objects.select_related("scheme").order_by("scheme__key", "depth")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("valid_from", timezone.localdate())
        return initial

    # ---- read-only displays
    @admin.display(description=_("level"), ordering="level__depth")
    def level_name(self, obj):
        return obj.level.name

    @admin.display(description=_("scheme"), ordering="scheme__key")
    def scheme_key(self, obj):
        return obj.scheme.key

    @admin.display(description=_("type"), ordering="node_type__order")
    def node_type_name(self, obj):
        return obj.node_type.name if obj.node_type_id else "-"

    @admin.display(description=_("management class"), ordering="management_class__order")
    def management_class_name(self, obj):
        return obj.management_class.name if obj.management_class_id else "-"

    @admin.display(description=_("parent"), ordering="parent__code")
    def parent_link(self, obj):
        if obj.parent_id is None:
            return "-"
        url = reverse("admin:territory_node_change", args=[obj.parent_id])
        return format_html('<a href="{}">{}</a>', url, obj.parent)

    @admin.display(description=_("in force"), boolean=True, ordering="valid_to")
    def in_force(self, obj):
        return obj.is_active

    @admin.display(description=_("area"))
    def area(self, obj):
        if obj.area_m2 is None:
            return "-"
        return gettext("%(m2)s m² (%(km2)s km²)") % {"m2": f"{obj.area_m2:,.0f}", "km2": f"{obj.area_m2 / 1e6:,.3f}"}

    @admin.display(description=_("centroid"))
    def centroid(self, obj):
        if obj.centroid_lon is None:
            return "-"
        return f"{obj.centroid_lon:.6f}, {obj.centroid_lat:.6f}"

    @admin.display(description=_("public card"))
    def public_card(self, obj):
        if not obj.is_active or not obj.code:
            return "-"
        url = reverse("territory:cell-card", args=[obj.scheme.key, obj.code])
        card = reverse("territory:cell-card-print", args=[obj.scheme.key, obj.code])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a> · '
                           '<a href="{}" target="_blank" rel="noopener">{}</a>',
                           url, gettext("cell page"), card, gettext("printable card with QR code"))

    @admin.display(description=_("children"))
    def children_count(self, obj):
        active = obj.children.current().count()
        tree = reverse("admin:territory_node_tree") + f"?open={obj.pk}"
        return format_html('{} · <a href="{}">{}</a>', ngettext("%(n)d child in force", "%(n)d children in force",
                                                                 active) % {"n": active},
                           tree, gettext("show in the tree"))

    @admin.display(description=_("people in charge"))
    def people_in_charge(self, obj):
        people = list(node_public_people(obj))
        if not people:
            return gettext("nobody listed")
        rows = format_html_join(
            "", '<li><a href="{}">{}</a> · {} {}</li>',
            ((reverse("admin:accounts_assignment_change", args=[a.pk]), a.role.name, a.person.name, a.person.phone)
             for a in people))
        return format_html('<ul class="people-in-charge">{}</ul>', rows)

    # ---- map preview
    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context["node_map"] = self._map_data(obj)
            if obj.is_active and request.user.has_perm("accounts.add_assignment"):
                extra_context["add_assignment_url"] = reverse("admin:accounts_assignment_add") + f"?node={obj.pk}"
        return super().change_view(request, object_id, form_url, extra_context)

    def _map_data(self, node: Node) -> dict:
        def feature(n: Node) -> dict:
            return {"id": n.pk, "code": n.code, "name": n.name, "geometry": n.geometry}

        children = list(node.children.current().exclude(geometry=None).only("id", "code", "name", "geometry")
                        .order_by("code")[:MAP_CHILDREN_LIMIT])
        return {
            "node": feature(node) if node.geometry else None,
            "parent": feature(node.parent) if node.parent_id and node.parent.geometry else None,
            "children": [feature(c) for c in children],
            "tiles": settings.MAP_TILES,
        }

    # ---- tree view
    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("tree/", self.admin_site.admin_view(self.tree_view), name=f"{prefix}_tree"),
            path("tree/children/", self.admin_site.admin_view(self.tree_children_view), name=f"{prefix}_tree_children"),
            *super().get_urls(),
        ]

    def _tree_rows(self, qs, *, include_retired: bool):
        children = Q(children__valid_to__isnull=True) if not include_retired else Q()
        if not include_retired:
            qs = qs.filter(valid_to__isnull=True)
        return (qs.select_related("level", "scheme")
                .annotate(child_count=Count("children", filter=children))
                .order_by("scheme__key", "level__depth", "code", "name"))

    def _tree_item(self, node: Node) -> dict:
        return {
            "id": node.pk,
            "code": node.code,
            "name": node.name,
            "level": node.level.name,
            "scheme": node.scheme.key,
            "active": node.is_active,
            "child_count": node.child_count,
            "change_url": reverse("admin:territory_node_change", args=[node.pk]),
            "card_url": (reverse("territory:cell-card", args=[node.scheme.key, node.code])
                         if node.is_active and node.code else None),
        }

    def tree_view(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        include_retired = request.GET.get("retired") == "1"
        qs = self.get_queryset(request)
        scheme_key = request.GET.get("scheme", "")
        if scheme_key:
            qs = qs.filter(scheme__key=scheme_key)
        paths = user_scope_paths(request.user)
        # the top of what the user sees: the roots for district staff, their assignments' nodes otherwise
        roots = qs.filter(parent__isnull=True) if paths is None else qs.filter(path__in=paths)
        roots = [self._tree_item(n) for n in self._tree_rows(roots, include_retired=include_retired)]
        open_ids: list[int] = []
        open_param = request.GET.get("open", "")
        if open_param.isdigit():
            target = self.get_queryset(request).filter(pk=int(open_param)).first()
            if target is not None:
                open_ids = [*target.ancestor_ids(), target.pk]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Territory tree"),
            "roots": roots,
            "schemes": LevelScheme.objects.order_by("key"),
            "scheme_key": scheme_key,
            "include_retired": include_retired,
            "open_ids": json.dumps(open_ids),
            "children_url": reverse("admin:territory_node_tree_children"),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/territory/node/tree.html", context)

    def tree_children_view(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        raw = request.GET.get("parent", "")
        if not raw.isdigit() or len(raw) > 18:
            raise Http404
        parent = get_object_or_404(self.get_queryset(request), pk=int(raw))
        include_retired = request.GET.get("retired") == "1"
        rows = self._tree_rows(self.get_queryset(request).filter(parent=parent), include_retired=include_retired)
        items = [self._tree_item(n) for n in rows[:TREE_CHILDREN_LIMIT + 1]]
        return JsonResponse({"parent": parent.pk, "children": items[:TREE_CHILDREN_LIMIT],
                             "truncated": len(items) > TREE_CHILDREN_LIMIT})

    # ---- actions
    @admin.action(description=_("Retire the selected cells"), permissions=["reorganise"])
    def retire_nodes(self, request, queryset):
        form = RetireForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done, failures = 0, []
            # deepest first, so a cell and its children selected together can be retired in one go
            for node in sorted(queryset, key=lambda n: -n.path.count("/")):
                try:
                    services.node_retire(node, effective_date=form.cleaned_data["effective_date"],
                                         actor=request.user, reason=form.cleaned_data["reason"])
                    done += 1
                except ValidationError as exc:
                    failures.append(f"{node}: {'; '.join(exc.messages)}")
            if done:
                self.message_user(request, ngettext("%(n)d cell retired.", "%(n)d cells retired.", done)
                                  % {"n": done}, messages.SUCCESS)
            for failure in failures:
                self.message_user(request, gettext("Not retired: %(why)s") % {"why": failure}, messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Retire cells"),
            "nodes": queryset.select_related("level"),
            "form": form,
            "action": "retire_nodes",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/territory/node/retire_confirmation.html", context)


# --------------------------------------------------------------------------- history (read-only)
@admin.register(NodeVersion)
class NodeVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["node", "code", "name", "level", "parent", "valid_from", "valid_to", "change", "actor"]
    list_filter = ["change", "level__scheme"]
    search_fields = ["^code", "name"]
    list_select_related = ["node", "level", "parent", "actor"]
    date_hierarchy = "valid_from"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(node__in=node_scope(Node.objects.all(), request.user))


@admin.register(NodeLineage)
class NodeLineageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["predecessor", "successor", "kind", "effective_date", "reason"]
    list_filter = ["kind"]
    list_select_related = ["predecessor", "successor"]
    search_fields = ["^predecessor__code", "^successor__code"]

    def get_queryset(self, request):
        visible = node_scope(Node.objects.all(), request.user)
        return super().get_queryset(request).filter(Q(predecessor__in=visible) | Q(successor__in=visible))


@admin.register(IssuedCode)
class IssuedCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["code", "scheme", "node", "issued_at"]
    list_filter = ["scheme"]
    search_fields = ["^code"]
    list_select_related = ["scheme", "node"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(node__in=node_scope(Node.objects.all(), request.user))


@admin.register(TerritoryVersion)
class TerritoryVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["value", "changed_at"]
