"""Admin of base data: houses, households, residents, units, special groups, party members, volunteers,
and the read-only history, access log and data jobs.

- Writes go through `people.services` (`ServiceModelForm`): the same validation, versioning and history
  as the pages and the API. Rows are never deleted here (a state with a date says what happened; erasure
  is `services.record_erase`).
- Personal fields are shown masked, in lists and in change forms. Names, ID numbers, phones and
  addresses are entered in write-only inputs (empty = unchanged) that never hold a stored value, so a
  clear value is never sent to the browser. No search on personal fields: the admin's search is a GET.
- Non-superusers see the records of their territory only (the `*_scope` selectors); foreign-key choices
  are scoped likewise.
- The history, the access log and the data jobs are read-only for everyone, superusers included.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.selectors import user_scope_paths
from gridgov.core.admin import ReadOnlyAdminMixin, ServiceAdminMixin, ServiceModelForm
from gridgov.people import services
from gridgov.people.models import (
    Building,
    DataJob,
    GroupMembership,
    House,
    Household,
    HouseholdPairing,
    LegalEntity,
    PartyMember,
    RecordHistory,
    RecordState,
    Resident,
    SpecialGroup,
    Volunteer,
)
from gridgov.people.selectors import (
    SCOPES,
    building_scope,
    house_scope,
    household_scope,
    job_scope,
    membership_visible,
    party_member_scope,
    resident_scope,
    volunteer_scope,
)
from gridgov.people.stats import current_q
from gridgov.privacy import access
from gridgov.privacy.access import PERSONAL_FIELDS, masked_value
from gridgov.territory.models import Node
from gridgov.territory.selectors import node_scope

SOURCE = "admin"
STATE_FIELDS = ["state", "state_date", "state_reason"]
DETAIL_URLS = {"resident": "people:resident", "household": "people:household", "house": "people:house",
               "legalentity": "people:entity"}


class WriteOnlyInput(forms.TextInput):
    """A text input that never renders a value: neither what is stored nor what was typed (a form shown
    again with errors does not send the personal value back)."""

    def format_value(self, value):
        return None


def _write_only(label, *, required: bool = False, max_length: int = 300, help_text=None) -> forms.CharField:
    """An input that never shows what is stored (it starts empty); empty on a change = unchanged."""
    return forms.CharField(label=label, required=required, max_length=max_length, strip=True,
                           help_text=help_text or _("Stored masked; leave empty to keep the current value"),
                           widget=WriteOnlyInput(attrs={"autocomplete": "off", "class": "vTextField"}))


# --------------------------------------------------------------------------- shared plumbing

class ScopedForeignKeysMixin:
    """Foreign-key choices limited to the user's territory (and to cells in force)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        user = request.user
        related = db_field.related_model
        if related is Node:
            kwargs["queryset"] = node_scope(Node.objects.current(), user)
        elif related is Household:
            kwargs["queryset"] = household_scope(Household.objects.filter(state=RecordState.ACTIVE), user)
        elif related is House:
            kwargs["queryset"] = house_scope(House.objects.filter(state=RecordState.ACTIVE), user)
        elif related is Building:
            kwargs["queryset"] = building_scope(Building.objects.filter(state=RecordState.ACTIVE), user)
        elif related is Resident:
            kwargs["queryset"] = resident_scope(Resident.objects.filter(state=RecordState.ACTIVE), user)
        elif related is PartyMember:
            kwargs["queryset"] = party_member_scope(PartyMember.objects.all(), user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class BaseRecordForm(ServiceModelForm):
    """Create with `create()`, change with `update()` (changed fields only, at the version shown) and
    change the state with `record_set_state`, all or nothing."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    update_fields: tuple[str, ...] = ()
    write_only: dict[str, str] = {}  # form field → service argument

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["expected_version"].initial = self.instance.version

    def create(self, data: dict):
        raise NotImplementedError

    def update(self, obj, changes: dict, expected_version: int | None) -> None:
        raise NotImplementedError

    def write(self):
        try:
            return self._write()
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise
            # errors the service names by its argument belong on the write-only input
            inputs = {argument: field for field, argument in self.write_only.items()}
            raise ValidationError({inputs.get(k, k): v for k, v in exc.error_dict.items()}) from None

    def _write(self):
        data = self.cleaned_data
        if self.instance.pk is None:
            return self.create(data)
        obj = self.instance
        changes = {name: data.get(name) for name in self.update_fields
                   if name in self.fields and name in self.changed_data}
        for field, argument in self.write_only.items():
            if data.get(field):
                changes[argument] = data[field]
        if "attributes" in changes and changes["attributes"] is None:
            changes["attributes"] = {}
        with transaction.atomic():  # a refused state change undoes the field changes too
            if changes:
                self.update(obj, changes, data.get("expected_version"))
            if any(name in self.changed_data for name in STATE_FIELDS if name in self.fields):
                if not data.get("state_date"):
                    raise ValidationError({"state_date": gettext("give the date of the change")})
                services.record_set_state(record=obj, state=data["state"], date=data["state_date"],
                                          reason=data.get("state_reason", ""), actor=self.actor, source=SOURCE)
        return obj


class BaseRecordAdmin(ScopedForeignKeysMixin, ServiceAdminMixin, admin.ModelAdmin):
    """Scoped, never deleted, personal fields masked and read-only."""

    list_per_page = 50
    list_select_related = ["node"]
    add_fields: list = []
    change_fields: list = []
    readonly_on_change: list = []
    # what the ID number encodes beyond its mask (the birth date): shown only where the user may reveal
    derived_fields: list = []

    def get_queryset(self, request):
        return SCOPES[self.model._meta.model_name](super().get_queryset(request), request.user)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": self.add_fields})]
        personal = [f"masked_{f}" for f in PERSONAL_FIELDS.get(self.model._meta.model_name, ())]
        sets = []
        if personal:
            sets.append((_("Personal data (masked)"), {"fields": personal}))
        sets.append((None, {"fields": [*self._readonly_on_change(request, obj), *self.change_fields,
                                       "expected_version"]}))
        sets.append((_("State"), {"fields": [*STATE_FIELDS, "version"]}))
        if not self.has_change_permission(request, obj):
            # view only: the admin shows every field read-only, and a read-only field must be something to
            # read; inputs that exist only to write (new_phone, expected_version, state_reason) have nothing
            sets = [(title, {"fields": [f for f in options["fields"] if self._readable(f)]})
                    for title, options in sets]
        return sets

    def _readable(self, name: str) -> bool:
        """A model field or a display method: what a read-only field of the admin can show."""
        try:
            self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return hasattr(self, name) or hasattr(self.model, name)
        return True

    def _readonly_on_change(self, request, obj) -> list:
        """The read-only facts of a stored record, less what the ID number encodes beyond its mask where the
        user may not reveal (a birth date next to the mask would give the whole number away)."""
        if access.derived_visible(request.user, obj):
            return list(self.readonly_on_change)
        return [f for f in self.readonly_on_change if f not in self.derived_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        personal = [f"masked_{f}" for f in PERSONAL_FIELDS.get(self.model._meta.model_name, ())]
        readonly = [*personal, *self._readonly_on_change(request, obj), "version"]
        if not self.has_change_permission(request, obj):
            readonly += [*self.change_fields, *STATE_FIELDS]
        return readonly

    def view_on_site(self, obj):
        name = DETAIL_URLS.get(obj._meta.model_name)
        return reverse(name, args=[obj.pk]) if name else None

    @admin.display(description=_("cell"), ordering="node__path")
    def node_name(self, obj):
        return obj.node.name


def _masked_display(field: str, label):
    @admin.display(description=label)
    def display(self, obj):
        return masked_value(obj, field) or "-"

    return display


# --------------------------------------------------------------------------- buildings

class BuildingForm(BaseRecordForm):
    class Meta:
        model = Building
        fields = ["scheme", "code", "name", "node", "address", "floors", "lon", "lat", "attributes", *STATE_FIELDS]

    def create(self, data):
        return services.building_create(scheme=data["scheme"], code=data["code"], name=data["name"],
                                        node=data.get("node"), address=data.get("address", ""),
                                        floors=data.get("floors"), lon=data.get("lon"), lat=data.get("lat"),
                                        attributes=data.get("attributes") or {}, actor=self.actor, source=SOURCE)


@admin.register(Building)
class BuildingAdmin(BaseRecordAdmin):
    form = BuildingForm
    list_display = ["code", "name", "node_name", "floors", "state"]
    list_filter = ["state", "scheme"]
    search_fields = ["^code", "name"]
    autocomplete_fields = ["node"]
    add_fields = ["scheme", "code", "name", "node", "address", "floors", "lon", "lat", "attributes"]
    # buildings change only their state here (there is no service to edit them otherwise yet)
    readonly_on_change = ["scheme", "code", "name", "node", "address", "floors", "lon", "lat", "attributes"]


# --------------------------------------------------------------------------- houses

class HouseForm(BaseRecordForm):
    new_address = _write_only(_("address"))
    update_fields = ("building", "building_no", "entrance_no", "floor", "room", "occupancy", "area_m2", "node",
                     "lon", "lat", "attributes")
    write_only = {"new_address": "address"}

    class Meta:
        model = House
        fields = ["scheme", "code", "node", "building", "building_no", "entrance_no", "floor", "room", "occupancy",
                  "area_m2", "lon", "lat", "attributes", *STATE_FIELDS]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and not data.get("new_address"):
            self.add_error("new_address", gettext("an address is required"))
        return data

    def create(self, data):
        return services.house_create(
            scheme=data["scheme"], code=data["code"], address=data["new_address"], node=data.get("node"),
            building=data.get("building"), building_no=data.get("building_no", ""),
            entrance_no=data.get("entrance_no", ""), floor=data.get("floor"), room=data.get("room", ""),
            occupancy=data["occupancy"], area_m2=data.get("area_m2"), lon=data.get("lon"), lat=data.get("lat"),
            attributes=data.get("attributes") or {}, actor=self.actor, source=SOURCE)

    def update(self, obj, changes, expected_version):
        services.house_update(house=obj, actor=self.actor, source=SOURCE, expected_version=expected_version,
                              **changes)


@admin.register(House)
class HouseAdmin(BaseRecordAdmin):
    form = HouseForm
    list_display = ["code", "masked_address", "building", "occupancy", "node_name", "state"]
    list_filter = ["state", "occupancy", "scheme"]
    list_select_related = ["node", "building"]
    search_fields = ["^code"]
    autocomplete_fields = ["node", "building"]
    add_fields = ["scheme", "code", "new_address", "node", "building", "building_no", "entrance_no", "floor", "room",
                  "occupancy", "area_m2", "lon", "lat", "attributes"]
    readonly_on_change = ["scheme", "code"]
    change_fields = ["new_address", "node", "building", "building_no", "entrance_no", "floor", "room", "occupancy",
                     "area_m2", "lon", "lat", "attributes"]
    masked_address = _masked_display("address", _("address"))


# --------------------------------------------------------------------------- households

class HouseholdForm(BaseRecordForm):
    new_address = _write_only(_("address"), help_text=_("Stored masked; leave empty to keep the current value "
                                                        "(or, when adding, to take the house's address)"))
    update_fields = ("house", "kind", "node", "lon", "lat", "attributes")
    write_only = {"new_address": "address"}

    class Meta:
        model = Household
        fields = ["scheme", "number", "node", "house", "kind", "lon", "lat", "attributes", *STATE_FIELDS]

    def create(self, data):
        return services.household_create(
            scheme=data["scheme"], number=data["number"], node=data.get("node"), house=data.get("house"),
            address=data.get("new_address", ""), kind=data["kind"], lon=data.get("lon"), lat=data.get("lat"),
            attributes=data.get("attributes") or {}, actor=self.actor, source=SOURCE)

    def update(self, obj, changes, expected_version):
        services.household_update(household=obj, actor=self.actor, source=SOURCE,
                                  expected_version=expected_version, **changes)


@admin.register(Household)
class HouseholdAdmin(BaseRecordAdmin):
    form = HouseholdForm
    list_display = ["number", "masked_address", "kind", "node_name", "state"]
    list_filter = ["state", "kind", "scheme"]
    search_fields = ["^number"]
    autocomplete_fields = ["node", "house"]
    add_fields = ["scheme", "number", "new_address", "node", "house", "kind", "lon", "lat", "attributes"]
    readonly_on_change = ["scheme", "number"]
    change_fields = ["new_address", "node", "house", "kind", "lon", "lat", "attributes"]
    masked_address = _masked_display("address", _("address"))


# --------------------------------------------------------------------------- residents

class GroupFilter(admin.SimpleListFilter):
    """Residents in a special group today (sensitive groups only for users who see them)."""

    title = _("special group")
    parameter_name = "group"

    def lookups(self, request, model_admin):
        return [(g.key, g.name) for g in SpecialGroup.objects.order_by("order", "key")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        visible = membership_visible(GroupMembership.objects.filter(current_q(timezone.localdate())), request.user)
        return queryset.filter(Exists(visible.filter(resident=OuterRef("pk"), group__key=self.value())))


class ResidentForm(BaseRecordForm):
    new_name = _write_only(_("name"), max_length=100)
    new_id_number = _write_only(_("ID number"), max_length=20)
    new_phone = _write_only(_("phone"), max_length=20)
    new_registered_address = _write_only(_("registered address"))
    new_actual_address = _write_only(_("actual address"))
    update_fields = ("household", "relation", "house", "registered_here", "living_here", "moved_in_date", "node",
                     "lon", "lat", "attributes")
    write_only = {"new_name": "name", "new_id_number": "id_number", "new_phone": "phone",
                  "new_registered_address": "registered_address", "new_actual_address": "actual_address"}

    class Meta:
        model = Resident
        fields = ["scheme", "node", "household", "relation", "house", "registered_here", "living_here",
                  "moved_in_date", "lon", "lat", "attributes", *STATE_FIELDS]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None:
            for name in ("new_name", "new_id_number"):
                if not data.get(name):
                    self.add_error(name, gettext("required when adding a resident"))
        return data

    def create(self, data):
        return services.resident_create(
            scheme=data["scheme"], name=data["new_name"], id_number=data["new_id_number"], node=data.get("node"),
            phone=data.get("new_phone", ""), household=data.get("household"), relation=data.get("relation", ""),
            house=data.get("house"), registered_here=data.get("registered_here", False),
            living_here=data.get("living_here", False), registered_address=data.get("new_registered_address", ""),
            actual_address=data.get("new_actual_address", ""), moved_in_date=data.get("moved_in_date"),
            lon=data.get("lon"), lat=data.get("lat"), attributes=data.get("attributes") or {}, actor=self.actor,
            source=SOURCE)

    def update(self, obj, changes, expected_version):
        services.resident_update(resident=obj, actor=self.actor, source=SOURCE, expected_version=expected_version,
                                 **changes)


@admin.register(Resident)
class ResidentAdmin(BaseRecordAdmin):
    form = ResidentForm
    list_display = ["masked_name", "id_masked", "gender", "household_number", "relation", "node_name", "state",
                    "registered_here", "living_here"]
    list_filter = ["state", "registered_here", "living_here", "gender", GroupFilter, "scheme"]
    list_select_related = ["node", "household"]
    search_fields = ["=household__number"]  # never a personal field: the search is in the URL
    autocomplete_fields = ["node", "household", "house"]
    add_fields = ["scheme", "new_name", "new_id_number", "new_phone", "node", "household", "relation", "house",
                  "registered_here", "living_here", "new_registered_address", "new_actual_address", "moved_in_date",
                  "lon", "lat", "attributes"]
    readonly_on_change = ["scheme", "gender", "birth_date"]
    derived_fields = ["birth_date"]
    change_fields = ["new_name", "new_id_number", "new_phone", "new_registered_address", "new_actual_address",
                     "node", "household", "relation", "house", "registered_here", "living_here", "moved_in_date",
                     "lon", "lat", "attributes"]
    masked_name = _masked_display("name", _("name"))
    masked_id_number = _masked_display("id_number", _("ID number"))
    masked_phone = _masked_display("phone", _("phone"))
    masked_registered_address = _masked_display("registered_address", _("registered address"))
    masked_actual_address = _masked_display("actual_address", _("actual address"))

    @admin.display(description=_("household"), ordering="household__number")
    def household_number(self, obj):
        return obj.household.number if obj.household_id else "-"


# --------------------------------------------------------------------------- legal entities

class EntityForm(BaseRecordForm):
    new_representative = _write_only(_("legal representative"), max_length=100)
    new_phone = _write_only(_("contact phone"), max_length=20)
    update_fields = ("name", "industry", "address", "employees", "dedicated_node", "node", "lon", "lat", "attributes")
    write_only = {"new_representative": "representative", "new_phone": "phone"}

    class Meta:
        model = LegalEntity
        fields = ["scheme", "name", "credit_code", "node", "industry", "address", "employees", "dedicated_node",
                  "lon", "lat", "attributes", *STATE_FIELDS]

    def create(self, data):
        return services.entity_create(
            scheme=data["scheme"], name=data["name"], credit_code=data["credit_code"], node=data.get("node"),
            industry=data.get("industry", ""), address=data.get("address", ""),
            representative=data.get("new_representative", ""), phone=data.get("new_phone", ""),
            employees=data.get("employees"), dedicated_node=data.get("dedicated_node"), lon=data.get("lon"),
            lat=data.get("lat"), attributes=data.get("attributes") or {}, actor=self.actor, source=SOURCE)

    def update(self, obj, changes, expected_version):
        services.entity_update(entity=obj, actor=self.actor, source=SOURCE, expected_version=expected_version,
                               **changes)


@admin.register(LegalEntity)
class LegalEntityAdmin(BaseRecordAdmin):
    form = EntityForm
    list_display = ["name", "credit_code", "industry", "masked_representative", "masked_phone", "node_name", "state"]
    list_filter = ["state", "scheme"]
    search_fields = ["name", "^credit_code"]
    autocomplete_fields = ["node", "dedicated_node"]
    add_fields = ["scheme", "name", "credit_code", "new_representative", "new_phone", "node", "industry", "address",
                  "employees", "dedicated_node", "lon", "lat", "attributes"]
    readonly_on_change = ["scheme", "credit_code"]
    change_fields = ["name", "new_representative", "new_phone", "node", "industry", "address", "employees",
                     "dedicated_node", "lon", "lat", "attributes"]
    masked_representative = _masked_display("representative", _("legal representative"))
    masked_phone = _masked_display("phone", _("contact phone"))


# --------------------------------------------------------------------------- special groups

FIELD_TYPES = {"text", "int", "date", "choice", "bool"}


class SpecialGroupForm(forms.ModelForm):
    class Meta:
        model = SpecialGroup
        fields = ["key", "name_zh", "name_en", "sensitive", "order", "fields"]
        help_texts = {"fields": _('A list of {"key", "label_zh", "label_en", "type" (text, int, date, choice, '
                                  'bool), "choices" (for choice), "required"}')}

    def clean_fields(self):
        value = self.cleaned_data.get("fields") or []
        if not isinstance(value, list):
            raise ValidationError(gettext("a list of attribute definitions is expected"))
        seen = set()
        for i, spec in enumerate(value, start=1):
            if not isinstance(spec, dict) or not str(spec.get("key", "")).strip():
                raise ValidationError(gettext("attribute %(i)d: an object with a key is expected") % {"i": i})
            key = spec["key"]
            if key in seen:
                raise ValidationError(gettext("attribute %(i)d: the key %(k)s is used twice") % {"i": i, "k": key})
            seen.add(key)
            if spec.get("type", "text") not in FIELD_TYPES:
                raise ValidationError(gettext("attribute %(k)s: the type must be one of %(t)s")
                                      % {"k": key, "t": ", ".join(sorted(FIELD_TYPES))})
            if spec.get("type") == "choice" and not (isinstance(spec.get("choices"), list) and spec["choices"]):
                raise ValidationError(gettext("attribute %(k)s: a choice needs a list of choices") % {"k": key})
        return value


@admin.register(SpecialGroup)
class SpecialGroupAdmin(admin.ModelAdmin):
    form = SpecialGroupForm
    list_display = ["name_zh", "name_en", "key", "sensitive", "order"]
    list_editable = ["order"]
    search_fields = ["key", "name_zh", "name_en"]

    def has_delete_permission(self, request, obj=None):
        # a group in use keeps its memberships' meaning
        if obj is not None and obj.memberships.exists():
            return False
        return super().has_delete_permission(request, obj)


# --------------------------------------------------------------------------- registrations

class OpenFilter(admin.SimpleListFilter):
    title = _("current")
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return [("yes", _("current")), ("no", _("ended"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "yes":
            return queryset.filter(current_q(today))
        if self.value() == "no":
            return queryset.exclude(current_q(today))
        return queryset


class RegistrationAdmin(ScopedForeignKeysMixin, ServiceAdminMixin, admin.ModelAdmin):
    """Memberships, party members, pairings, volunteers: added through their service, ended through theirs."""

    list_per_page = 50
    raw_id_fields = ["resident"]  # a resident is picked by id, never searched by name
    add_fields: list = []
    end_fields: list = []
    shown: list = []

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_change_permission(self, request, obj=None):
        if obj is not None and (not self.end_fields or getattr(obj, "end_date", None) is not None):
            return False  # nothing left to change: shown read-only
        return super().has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else [*self.shown, *self.end_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return self.shown if self.has_change_permission(request, obj) else [*self.shown, *self.end_fields]

    @admin.display(description=_("resident"))
    def resident_masked(self, obj):
        return str(obj.resident)


class MembershipForm(ServiceModelForm):
    class Meta:
        model = GroupMembership
        fields = ["resident", "group", "attributes", "start_date", "end_date"]

    def write(self):
        data = self.cleaned_data
        if self.instance.pk is None:
            return services.membership_add(resident=data["resident"], group=data["group"],
                                           start_date=data["start_date"], attributes=data.get("attributes"),
                                           actor=self.actor)
        if data.get("end_date"):
            return services.membership_end(membership=self.instance, end_date=data["end_date"], actor=self.actor)
        return self.instance


@admin.register(GroupMembership)
class GroupMembershipAdmin(RegistrationAdmin):
    form = MembershipForm
    list_display = ["resident_masked", "group", "start_date", "end_date"]
    list_filter = ["group", OpenFilter]
    list_select_related = ["resident", "group"]
    add_fields = ["resident", "group", "attributes", "start_date"]
    shown = ["resident_masked", "group", "attributes", "start_date"]
    end_fields = ["end_date"]

    def get_queryset(self, request):
        return membership_visible(super().get_queryset(request), request.user)


class PartyMemberForm(ServiceModelForm):
    class Meta:
        model = PartyMember
        fields = ["resident", "branch_node", "joined_date", "work_unit", "start_date"]

    def write(self):
        data = self.cleaned_data
        return services.party_member_register(resident=data["resident"], branch_node=data["branch_node"],
                                              start_date=data["start_date"], joined_date=data.get("joined_date"),
                                              work_unit=data.get("work_unit", ""), actor=self.actor)


@admin.register(PartyMember)
class PartyMemberAdmin(RegistrationAdmin):
    form = PartyMemberForm
    list_display = ["resident_masked", "branch_node", "joined_date", "start_date", "end_date"]
    list_filter = [OpenFilter]
    list_select_related = ["resident", "branch_node"]
    autocomplete_fields = ["branch_node"]
    add_fields = ["resident", "branch_node", "joined_date", "work_unit", "start_date"]
    shown = ["resident_masked", "branch_node", "joined_date", "work_unit", "start_date", "end_date"]

    def get_queryset(self, request):
        return party_member_scope(super().get_queryset(request), request.user)


class PairingForm(ServiceModelForm):
    class Meta:
        model = HouseholdPairing
        fields = ["member", "household", "start_date", "end_date"]

    def write(self):
        data = self.cleaned_data
        if self.instance.pk is None:
            return services.household_pair(member=data["member"], household=data["household"],
                                           start_date=data["start_date"], actor=self.actor)
        if data.get("end_date"):
            return services.household_unpair(pairing=self.instance, end_date=data["end_date"], actor=self.actor)
        return self.instance


@admin.register(HouseholdPairing)
class HouseholdPairingAdmin(RegistrationAdmin):
    form = PairingForm
    raw_id_fields = ["member"]
    autocomplete_fields = ["household"]
    list_display = ["member_masked", "household", "start_date", "end_date"]
    list_filter = [OpenFilter]
    list_select_related = ["member__resident", "household"]
    add_fields = ["member", "household", "start_date"]
    shown = ["member_masked", "household", "start_date"]
    end_fields = ["end_date"]

    def get_queryset(self, request):
        households = household_scope(Household.objects.all(), request.user)
        return super().get_queryset(request).filter(household__in=households)

    @admin.display(description=_("party member"))
    def member_masked(self, obj):
        return str(obj.member.resident)


class VolunteerForm(ServiceModelForm):
    class Meta:
        model = Volunteer
        fields = ["resident", "node", "skills", "start_date"]

    def write(self):
        data = self.cleaned_data
        return services.volunteer_register(resident=data["resident"], start_date=data["start_date"],
                                           node=data.get("node"), skills=data.get("skills", ""), actor=self.actor)


@admin.register(Volunteer)
class VolunteerAdmin(RegistrationAdmin):
    form = VolunteerForm
    list_display = ["resident_masked", "node", "skills", "start_date", "end_date"]
    list_filter = [OpenFilter]
    list_select_related = ["resident", "node"]
    autocomplete_fields = ["node"]
    add_fields = ["resident", "node", "skills", "start_date"]
    shown = ["resident_masked", "node", "skills", "start_date", "end_date"]

    def get_queryset(self, request):
        return volunteer_scope(super().get_queryset(request), request.user)


# --------------------------------------------------------------------------- read-only logs

@admin.register(RecordHistory)
class RecordHistoryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who changed which fields of which record, when and from where. The snapshots (the record's values)
    are not shown: they hold names and addresses in clear."""

    list_display = ["at", "record_type", "record_id", "version", "action", "actor", "source", "changed_fields"]
    list_filter = ["record_type", "action"]
    search_fields = ["=record_id", "source"]
    list_select_related = ["actor"]
    date_hierarchy = "at"
    fields = ["at", "record_type", "record_id", "version", "action", "actor", "source", "changed_fields"]
    readonly_fields = fields

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if user_scope_paths(request.user) is None:
            return qs
        # the history of the records the user sees (an erased record's history is district staff's only)
        visible = Q(pk__in=[])
        for model in (Resident, Household, House, Building, LegalEntity):
            records = SCOPES[model._meta.model_name](model.objects.all(), request.user)
            visible |= Q(record_type=model._meta.model_name, record_id__in=records.values("pk"))
        return qs.filter(visible)

    @admin.display(description=_("changed fields"))
    def changed_fields(self, obj):
        return ", ".join(obj.changed)


@admin.register(DataJob)
class DataJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["pk", "kind", "record_type", "owner", "status", "progress_percent", "created_at", "finished_at"]
    list_filter = ["kind", "status", "record_type"]
    list_select_related = ["owner"]
    fields = ["kind", "record_type", "scheme", "owner", "status", "file_name", "total", "done", "summary", "error",
              "created_at", "started_at", "finished_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return job_scope(super().get_queryset(request), request.user)

    @admin.display(description=_("progress"))
    def progress_percent(self, obj):
        return f"{obj.progress} %"
