"""Admin of logins, the role catalogue, people in charge and their assignments to cells.

Assignments are created through `accounts.services.assignment_create` and ended through
`assignment_end`, so duplicates, overlaps, wrong levels and retired cells are refused with the
field named. Non-superusers see people and assignments of their own territory only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from gridgov.accounts import services
from gridgov.accounts.admin_roles import admin_role_may_grant
from gridgov.accounts.models import AdminRole, Assignment, Department, Person, Role, Team, User
from gridgov.accounts.selectors import assignment_scope, person_scope, user_scope_paths
from gridgov.core.admin import ServiceAdminMixin, ServiceModelForm, service_errors_to_form
from gridgov.core.api import client_address
from gridgov.core.audit import audit_record
from gridgov.territory.models import Node
from gridgov.territory.selectors import node_scope


# --------------------------------------------------------------------------- users
class UserGrantsForm(DjangoUserChangeForm):
    """The change form of a login: a change of powers goes through `services.user_grants_check` (the
    security administrator only, never on oneself), whatever the form lets through."""

    actor = None  # the request's user, set by UserAdmin.get_form

    def clean(self):
        data = super().clean()
        if self.instance.pk is None or self.errors:
            return data
        before = services.user_grants_snapshot(self.instance)
        after = dict(before)
        for flag in services.GRANT_FLAGS:
            name = flag.removesuffix("_id")
            if name in self.cleaned_data:
                value = self.cleaned_data[name]
                after[flag] = value.pk if flag == "scheme_id" and value is not None else value
        if "groups" in self.cleaned_data:
            after["groups"] = sorted(g.name for g in self.cleaned_data["groups"])
        if "user_permissions" in self.cleaned_data:
            after["user_permissions"] = sorted(f"{p.content_type.app_label}.{p.codename}"
                                               for p in self.cleaned_data["user_permissions"])
        try:
            services.user_grants_check(actor=self.actor, user=self.instance, before=before, after=after)
        except ValidationError as exc:
            service_errors_to_form(self, exc)
        return data


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserGrantsForm
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (_("Territory and lock-out"), {"fields": ["sees_everything", "scheme", "failed_login_count", "locked_until"]}),
        (_("Administrator role and platform"), {"fields": ["admin_role", "platform_wide"]}),
    ]
    list_display = ["username", "person_name", "is_staff", "is_superuser", "sees_everything", "scheme", "admin_role",
                    "is_active", "locked_until", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "sees_everything", "admin_role", "platform_wide"]
    search_fields = ["username", "person__name"]
    list_select_related = ["person", "scheme"]
    actions = ["unlock", "reset_two_factor"]

    # only the security administrator grants powers, never their own (三员分立, accounts.admin_roles)
    ESCALATING = ["is_superuser", "is_staff", "groups", "user_permissions", "sees_everything", "scheme",
                  "admin_role", "platform_wide"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if user_scope_paths(request.user) is None or request.user.admin_role == "SECURITY":
            return qs
        people = person_scope(Person.objects.all(), request.user)
        return qs.filter(Q(pk=request.user.pk) | Q(person__in=people))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        return form

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        user = request.user
        if not user.is_superuser and (not admin_role_may_grant(user) or (obj is not None and obj.pk == user.pk)):
            readonly += self.ESCALATING
        elif not user.is_superuser:
            readonly.append("is_superuser")  # superusers are made at installation only
        return readonly

    def has_delete_permission(self, request, obj=None):
        return False  # logins are deactivated, never deleted: audit and history rows point at them

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        request._grants_before = services.user_grants_snapshot(obj) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        before = getattr(request, "_grants_before", None)
        if before is not None:
            services.user_grants_audit(user=form.instance, before=before, actor=request.user,
                                       address=client_address(request))

    @admin.display(description=_("person in charge"), ordering="person__name")
    def person_name(self, obj):
        person = getattr(obj, "person", None)
        return person.name if person else "-"

    @admin.action(description=_("Unlock the selected accounts"), permissions=["change"])
    def unlock(self, request, queryset):
        address = client_address(request)
        count = sum(services.user_unlock(actor=request.user, user=user, address=address)
                    for user in queryset.filter(Q(locked_until__isnull=False) | Q(failed_login_count__gt=0)))
        self.message_user(request, ngettext("%(n)d account unlocked.", "%(n)d accounts unlocked.", count)
                          % {"n": count}, messages.SUCCESS)

    @admin.action(description=_("Reset the two-factor login of the selected accounts"), permissions=["change"])
    def reset_two_factor(self, request, queryset):
        address, count = client_address(request), 0
        for user in queryset:
            try:
                services.user_two_factor_reset(actor=request.user, user=user, address=address)
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
                continue
            count += 1
        self.message_user(request, ngettext("%(n)d account sets up two-factor login again at its next login.",
                                            "%(n)d accounts set up two-factor login again at their next login.", count)
                          % {"n": count}, messages.SUCCESS)


# --------------------------------------------------------------------------- groups
def _group_snapshot(group) -> dict:
    return {"name": group.name, "permissions": sorted(f"{a}.{c}" for a, c in Group.objects.get(pk=group.pk)
                                                      .permissions.values_list("content_type__app_label", "codename"))}


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """Groups carry permissions: only the security administrator edits them (admin_roles), each change
    audited with old and new values."""

    def save_model(self, request, obj, form, change):
        request._group_before = _group_snapshot(obj) if change else {"name": None, "permissions": []}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        changes = services.grants_diff(request._group_before, _group_snapshot(form.instance))
        if changes:
            audit_record(actor=request.user, action="auth.group_change", target=form.instance, changes=changes,
                         address=client_address(request))

    def delete_model(self, request, obj):
        before = _group_snapshot(obj)
        super().delete_model(request, obj)
        audit_record(actor=request.user, action="auth.group_delete", changes={"group": [before, None]},
                     summary=before["name"], address=client_address(request))

    def delete_queryset(self, request, queryset):
        for group in queryset:
            self.delete_model(request, group)


# --------------------------------------------------------------------------- roles
class RoleForm(forms.ModelForm):
    class Meta:
        model = Role
        fields = ["scheme", "key", "name_zh", "name_en", "category", "levels", "grants_scope", "reveals_personal_data", "duties", "order"]

    def clean(self):
        data = super().clean()
        scheme, levels = data.get("scheme"), data.get("levels")
        if scheme is not None and levels is not None:
            foreign = [lv for lv in levels if lv.scheme_id != scheme.pk]
            if foreign:
                self.add_error("levels", gettext("%(levels)s are not levels of scheme %(scheme)s")
                               % {"levels": "、".join(str(lv) for lv in foreign), "scheme": scheme.key})
        return data


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    form = RoleForm
    list_display = ["name_zh", "name_en", "key", "scheme", "category", "grants_scope", "level_names", "order"]
    list_filter = ["scheme", "category", "grants_scope"]
    search_fields = ["key", "name_zh", "name_en"]
    filter_horizontal = ["levels"]
    list_select_related = ["scheme"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("levels")

    def get_readonly_fields(self, request, obj=None):
        # letting holders reveal personal data is a grant: the security administrator's, and only that
        readonly = list(super().get_readonly_fields(request, obj))
        if request.user.admin_role == AdminRole.SECURITY:
            return [f for f in self.form.Meta.fields if f != "reveals_personal_data"]
        return readonly if admin_role_may_grant(request.user) else [*readonly, "reveals_personal_data"]

    def save_model(self, request, obj, form, change):
        old = Role.objects.filter(pk=obj.pk).values("grants_scope", "reveals_personal_data").first() or {}
        super().save_model(request, obj, form, change)
        changes = {f: [old.get(f), getattr(obj, f)] for f in ("grants_scope", "reveals_personal_data")
                   if old.get(f) != getattr(obj, f)}
        if changes:
            audit_record(actor=request.user, action="accounts.role_grants_change", target=obj, changes=changes,
                         address=client_address(request))

    @admin.display(description=_("levels"))
    def level_names(self, obj):
        return "、".join(level.name for level in obj.levels.all()) or gettext("any level")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "levels":
            from gridgov.territory.models import Level

            kwargs["queryset"] = Level.objects.select_related("scheme").order_by("scheme__key", "depth")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


# --------------------------------------------------------------------------- people
class PersonAddForm(ServiceModelForm):
    class Meta:
        model = Person
        fields = ["name", "phone", "organisation", "user", "note"]

    def write(self):
        data = self.cleaned_data
        return services.person_create(name=data["name"], phone=data.get("phone", ""),
                                      organisation=data.get("organisation", ""), note=data.get("note", ""),
                                      user=data.get("user"), actor=self.actor)


class PersonChangeForm(forms.ModelForm):
    class Meta:
        model = Person
        fields = ["name", "phone", "organisation", "user", "note"]

    def clean_phone(self):
        try:
            return services.phone_clean(self.cleaned_data.get("phone", ""))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc


class AssignmentInline(admin.TabularInline):
    """A person's assignments, read-only here: they are created and ended on the assignment pages."""

    model = Assignment
    fk_name = "person"
    extra = 0
    fields = ["node", "role", "start_date", "end_date", "is_public"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return assignment_scope(super().get_queryset(request), request.user).select_related("node", "role")


@admin.register(Person)
class PersonAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["name", "phone", "organisation", "user", "current_roles"]
    search_fields = ["name", "phone", "organisation"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    inlines = [AssignmentInline]

    def get_queryset(self, request):
        return person_scope(super().get_queryset(request), request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = PersonChangeForm if obj is not None else PersonAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        # people who held a post stay: the history of who was in charge refers to them
        if obj is not None and obj.assignments.exists():
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=_("current roles"))
    def current_roles(self, obj):
        current = obj.assignments.current().select_related("role", "node")
        return "；".join(f"{a.role.name} · {a.node.name}" for a in current[:5]) or "-"


# --------------------------------------------------------------------------- assignments
class RoleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.scheme.key} · {obj.name} ({obj.key})"


class AssignmentAddForm(ServiceModelForm):
    class Meta:
        model = Assignment
        fields = ["person", "node", "role", "start_date", "end_date", "duties", "is_public"]
        field_classes = {"role": RoleChoiceField}
        help_texts = {"duties": _("Empty = the role's standard duties")}

    def write(self):
        data = self.cleaned_data
        return services.assignment_create(
            person=data["person"], node=data["node"], role=data["role"], start_date=data.get("start_date"),
            end_date=data.get("end_date"), duties=data.get("duties", ""), is_public=data.get("is_public", True),
            actor=self.actor)


class AssignmentChangeForm(ServiceModelForm):
    """Ending goes through `assignment_end`; the published flag and the duty text are plain edits
    (there is no service for them yet) recorded in the audit log."""

    end_reason = forms.CharField(label=_("end reason"), required=False, max_length=200)

    class Meta:
        model = Assignment
        fields = ["end_date", "end_reason", "duties", "is_public"]

    def write(self):
        assignment = self.instance
        data = self.cleaned_data
        if "end_date" in self.changed_data:
            if data.get("end_date") is None:
                raise ValidationError({"end_date": gettext("an ended assignment cannot be reopened; "
                                                           "create a new one")})
            assignment = services.assignment_end(assignment, end_date=data["end_date"],
                                                 reason=data.get("end_reason", ""), actor=self.actor)
        plain = {f: data[f] for f in ("duties", "is_public") if f in self.changed_data}
        if plain:
            Assignment.objects.filter(pk=assignment.pk).update(**plain)
            changes = {"duties": ["…", "…"]} if "duties" in plain else {}
            if "is_public" in plain:
                changes["is_public"] = [self.instance.is_public, plain["is_public"]]
            audit_record(actor=self.actor, action="accounts.assignment_update", target=assignment, changes=changes)
            assignment.refresh_from_db()
        return assignment


class CurrentFilter(admin.SimpleListFilter):
    title = _("current")
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return [("yes", _("current")), ("no", _("ended or not started"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.current()
        if self.value() == "no":
            return queryset.exclude(pk__in=Assignment.objects.current().values("pk"))
        return queryset


@admin.register(Assignment)
class AssignmentAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["person", "role", "node", "start_date", "end_date", "is_public"]
    list_filter = [CurrentFilter, "role__scheme", "role", "is_public"]
    search_fields = ["person__name", "^node__code", "node__name", "role__name_zh", "role__key"]
    list_select_related = ["person", "role", "node"]
    autocomplete_fields = ["person", "node"]
    date_hierarchy = "start_date"

    def get_queryset(self, request):
        if request.user.admin_role == AdminRole.SECURITY:
            # the security administrator's part of this page: the assignments that let holders reveal
            qs = super().get_queryset(request).filter(role__reveals_personal_data=True)
            return qs.filter(node__scheme_id=request.user.scheme_id) if request.user.scheme_id else qs
        return assignment_scope(super().get_queryset(request), request.user)

    def get_autocomplete_fields(self, request):
        # the security administrator has no territory pages to search: plain choices instead
        return [] if request.user.admin_role == AdminRole.SECURITY else super().get_autocomplete_fields(request)

    def has_delete_permission(self, request, obj=None):
        # assignments are ended, never deleted: they are the record of who was in charge when
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = AssignmentChangeForm if obj is not None else AssignmentAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["person", "node", "role", "start_date", "end_date", "duties", "is_public"]
        return ["person", "node", "role", "start_date", "end_date", "end_reason", "duties", "is_public",
                "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = ["person", "node", "role", "start_date", "created_by", "created_at"]
        if obj.end_date is not None and obj.end_date < timezone.localdate():
            readonly += ["end_date", "end_reason"]  # already over: history
        return readonly

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("start_date", timezone.localdate())
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "role":
            kwargs["queryset"] = Role.objects.select_related("scheme").order_by("scheme__key", "order", "key")
        elif db_field.name == "node" and request.user.admin_role == AdminRole.SECURITY:
            nodes = Node.objects.current()
            kwargs["queryset"] = nodes.filter(scheme_id=request.user.scheme_id) if request.user.scheme_id else nodes
        elif db_field.name == "node":
            # what the autocomplete offers is scoped by NodeAdmin; what is accepted must be too
            kwargs["queryset"] = node_scope(Node.objects.current(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --------------------------------------------------------------------------- departments and teams
class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["department", "name", "phone", "areas", "members"]

    def clean(self):
        data = super().clean()
        # in the department's inline the department is the form's instance's (set by the formset)
        department = data.get("department") or getattr(self.instance, "department", None)
        areas = data.get("areas")
        if department is not None and areas:
            foreign = [node for node in areas if node.scheme_id != department.scheme_id]
            if foreign:
                self.add_error("areas", gettext("%(nodes)s are not cells of the department's scheme")
                               % {"nodes": "、".join(str(n) for n in foreign)})
        return data

    def clean_phone(self):
        try:
            return services.phone_clean(self.cleaned_data.get("phone", ""))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc


class TeamInline(admin.TabularInline):
    """A department's teams; a team with no areas answers for the whole territory (the default team)."""

    model = Team
    form = TeamForm
    extra = 0
    fields = ["name", "phone", "areas", "members"]
    autocomplete_fields = ["areas", "members"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["key", "name_zh", "name_en", "scheme", "active", "team_count"]
    list_filter = ["scheme", "active"]
    search_fields = ["key", "name_zh", "name_en"]
    list_select_related = ["scheme"]
    inlines = [TeamInline]

    def get_readonly_fields(self, request, obj=None):
        return ["scheme", "key"] if obj is not None else []

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("teams")

    @admin.display(description=_("teams"))
    def team_count(self, obj):
        return len(obj.teams.all())


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamForm
    list_display = ["name", "department", "phone", "area_names", "member_count"]
    list_filter = ["department__scheme", "department"]
    search_fields = ["name", "department__name_zh", "department__key"]
    list_select_related = ["department"]
    autocomplete_fields = ["department", "areas", "members"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("areas", "members")

    @admin.display(description=_("areas"))
    def area_names(self, obj):
        return "、".join(node.name for node in obj.areas.all()[:5]) or gettext("the whole territory")

    @admin.display(description=_("members"))
    def member_count(self, obj):
        return len(obj.members.all())



# --------------------------------------------------------------------------- two factors
# django-otp's own admin of TOTP devices shows each device's secret key (anyone reading it could make the
# codes): devices are managed only through the login flow and the "reset two-factor login" action above.
def _hide_totp_device_admin() -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if admin.site.is_registered(TOTPDevice):
        admin.site.unregister(TOTPDevice)


_hide_totp_device_admin()
