"""Base-data records (residents, households, houses, buildings, units): answered masked, with their
history; request bodies of creates, updates, state changes, erasure, reveal and search."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gridgov.people.filters import (
    open_on,
)
from gridgov.people.models import (
    Building,
    GroupMembership,
    House,
    Household,
    LegalEntity,
    Occupancy,
    RecordHistory,
    RecordState,
    Relation,
    Resident,
)
from gridgov.people.selectors import (
    membership_visible,
    resident_scope,
)
from gridgov.people.serializers.fields import AttributesField, MaskedField, id_field, text_field
from gridgov.privacy.access import derived_visible

AGE_BANDS = ((0, 17), (18, 34), (35, 59), (60, 79), (80, None))

# history's changed column names → the field a user knows
CHANGED_NAMES = {"id_sealed": "id_number", "id_digest": "id_number", "id_masked": "id_number",
                 "phone_sealed": "phone", "phone_digest": "phone", "phone_masked": "phone"}

def age_band(birth_date: dt.date | None, today: dt.date | None = None) -> str:
    if birth_date is None:
        return ""
    today = today or timezone.localdate()
    age = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    for low, high in AGE_BANDS:
        if high is None or age <= high:
            return f"{low}+" if high is None else f"{low}-{high}"
    return ""

class RecordSerializer(serializers.ModelSerializer):
    scheme = serializers.SlugRelatedField(slug_field="key", read_only=True)
    node_name = serializers.CharField(source="node.name", read_only=True)

    BASE = ["id", "scheme", "node", "node_name", "state", "state_date", "state_reason", "attributes", "version",
            "created_at", "updated_at"]

class MembershipBriefSerializer(serializers.ModelSerializer):
    group = serializers.SlugRelatedField(slug_field="key", read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)

    class Meta:
        model = GroupMembership
        fields = ["id", "group", "group_name", "attributes", "start_date", "end_date"]

class ResidentSerializer(RecordSerializer):
    name = MaskedField("name")
    id_number = MaskedField("id_number")
    phone = MaskedField("phone")
    registered_address = MaskedField("registered_address")
    actual_address = MaskedField("actual_address")
    birth_year = serializers.SerializerMethodField()
    age_band = serializers.SerializerMethodField()
    household_number = serializers.CharField(source="household.number", read_only=True, default=None,
                                             allow_null=True)
    groups = serializers.SerializerMethodField()

    class Meta:
        model = Resident
        fields = [*RecordSerializer.BASE[:4], "name", "id_number", "phone", "gender", "birth_year", "age_band",
                  "household", "household_number", "relation", "house", "registered_here", "living_here",
                  "registered_address", "actual_address", "moved_in_date", "moved_out_date", "groups",
                  *RecordSerializer.BASE[4:]]

    def _derived(self, obj) -> bool:
        request = self.context.get("request")
        return request is not None and derived_visible(request.user, obj)

    def get_birth_year(self, obj) -> int | None:
        """None unless the caller may reveal in the resident's cell (`access.derived_visible`)."""
        return obj.birth_date.year if obj.birth_date and self._derived(obj) else None

    def get_age_band(self, obj) -> str:
        """Empty unless the caller may reveal in the resident's cell (`access.derived_visible`)."""
        return age_band(obj.birth_date) if self._derived(obj) else ""

    @extend_schema_field(MembershipBriefSerializer(many=True))
    def get_groups(self, obj):
        rows = getattr(obj, "visible_groups", None)
        if rows is None:
            qs = membership_visible(GroupMembership.objects.filter(resident_id=obj.pk).select_related("group"),
                                    self.context["request"].user)
            on = self.context.get("as_of")
            rows = qs.filter(open_on(on)) if on else qs
        return MembershipBriefSerializer(rows, many=True).data

class MemberBriefSerializer(serializers.ModelSerializer):
    name = MaskedField("name")
    id_number = MaskedField("id_number")
    birth_year = serializers.SerializerMethodField()

    class Meta:
        model = Resident
        fields = ["id", "name", "id_number", "gender", "birth_year", "relation", "state"]

    def get_birth_year(self, obj) -> int | None:
        """None unless the caller may reveal in the member's cell (`access.derived_visible`)."""
        request = self.context.get("request")
        if obj.birth_date is None or request is None or not derived_visible(request.user, obj):
            return None
        return obj.birth_date.year

class HouseholdSerializer(RecordSerializer):
    address = MaskedField("address")
    house_code = serializers.CharField(source="house.code", read_only=True, default=None, allow_null=True)
    members = serializers.SerializerMethodField()

    class Meta:
        model = Household
        fields = [*RecordSerializer.BASE[:4], "number", "kind", "house", "house_code", "address", "members",
                  *RecordSerializer.BASE[4:]]

    @extend_schema_field(MemberBriefSerializer(many=True))
    def get_members(self, obj):
        rows = getattr(obj, "scoped_members", None)
        if rows is None:
            rows = resident_scope(Resident.objects.filter(household_id=obj.pk).select_related("node"),
                                  self.context["request"].user).order_by("id")
        return MemberBriefSerializer(rows, many=True, context=self.context).data

class HouseSerializer(RecordSerializer):
    address = MaskedField("address")
    building_code = serializers.CharField(source="building.code", read_only=True, default=None, allow_null=True)

    class Meta:
        model = House
        fields = [*RecordSerializer.BASE[:4], "code", "building", "building_code", "address", "building_no",
                  "entrance_no", "floor", "room", "occupancy", "area_m2", *RecordSerializer.BASE[4:]]

class BuildingSerializer(RecordSerializer):
    class Meta:
        model = Building
        fields = [*RecordSerializer.BASE[:4], "code", "name", "address", "floors", "lon", "lat",
                  *RecordSerializer.BASE[4:]]

class EntitySerializer(RecordSerializer):
    representative = MaskedField("representative")
    phone = MaskedField("phone")

    class Meta:
        model = LegalEntity
        fields = [*RecordSerializer.BASE[:4], "name", "credit_code", "industry", "address", "representative",
                  "phone", "employees", "dedicated_node", "lon", "lat", *RecordSerializer.BASE[4:]]

class HistorySerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    changed = serializers.SerializerMethodField()

    class Meta:
        model = RecordHistory
        fields = ["version", "action", "at", "actor", "source", "changed"]

    def get_changed(self, obj) -> list[str]:
        return list(dict.fromkeys(CHANGED_NAMES.get(name, name) for name in obj.changed or []))

class RecordWriteSerializer(serializers.Serializer):
    node = id_field(required=False, help_text="cell id (else the cell of the household / house / building, else the "
                                         "cell at lon, lat)")
    lon = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    attributes = AttributesField()

class RecordCreateSerializer(RecordWriteSerializer):
    scheme = serializers.SlugField(required=False, max_length=40,
                                   help_text="level scheme key (needed only when no cell or parent record is given)")

class VersionedSerializer(RecordWriteSerializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1,
                                       help_text="the version you read; a newer one on the server is a 400")

class _ResidentFields(serializers.Serializer):
    phone = text_field(40, help_text="clear in the request body only; answered masked")
    household = id_field(required=False, allow_null=True)
    relation = serializers.ChoiceField(choices=Relation.choices, required=False, allow_blank=True)
    house = id_field(required=False, allow_null=True)
    registered_here = serializers.BooleanField(required=False)
    living_here = serializers.BooleanField(required=False)
    registered_address = text_field(300)
    actual_address = text_field(300)
    moved_in_date = serializers.DateField(required=False, allow_null=True)

class ResidentCreateSerializer(RecordCreateSerializer, _ResidentFields):
    name = text_field(100, required=True, allow_blank=False)
    id_number = text_field(40, required=True, allow_blank=False,
                      help_text="clear in the request body only; answered masked")

class ResidentUpdateSerializer(VersionedSerializer, _ResidentFields):
    name = text_field(100, allow_blank=False)
    id_number = text_field(40, allow_blank=False)

class HouseholdCreateSerializer(RecordCreateSerializer):
    number = text_field(40, required=True, allow_blank=False)
    house = id_field(required=False, allow_null=True)
    address = text_field(300)
    kind = serializers.ChoiceField(choices=Household.Kind.choices, required=False)

class HouseholdUpdateSerializer(VersionedSerializer):
    house = id_field(required=False, allow_null=True)
    address = text_field(300)
    kind = serializers.ChoiceField(choices=Household.Kind.choices, required=False)

class _HouseFields(serializers.Serializer):
    building = id_field(required=False, allow_null=True)
    building_no = text_field(20)
    entrance_no = text_field(20)
    floor = serializers.IntegerField(required=False, allow_null=True, min_value=-32768, max_value=32767)
    room = text_field(20)
    occupancy = serializers.ChoiceField(choices=Occupancy.choices, required=False)
    area_m2 = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1e9)

class HouseCreateSerializer(RecordCreateSerializer, _HouseFields):
    code = text_field(60, required=True, allow_blank=False)
    address = text_field(300, required=True, allow_blank=False)

class HouseUpdateSerializer(VersionedSerializer, _HouseFields):
    address = text_field(300, allow_blank=False)

class BuildingCreateSerializer(RecordCreateSerializer):
    code = text_field(40, required=True, allow_blank=False)
    name = text_field(200)
    address = text_field(300)
    floors = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=32767)

class BuildingUpdateSerializer(VersionedSerializer):
    name = text_field(200, allow_blank=False)
    address = text_field(300)
    floors = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=32767)

class _EntityFields(serializers.Serializer):
    industry = text_field(100)
    address = text_field(300)
    representative = text_field(100)
    phone = text_field(40, help_text="clear in the request body only; answered masked")
    employees = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31 - 1)
    dedicated_node = id_field(required=False, allow_null=True)

class EntityCreateSerializer(RecordCreateSerializer, _EntityFields):
    name = text_field(200, required=True, allow_blank=False)
    credit_code = text_field(40, required=True, allow_blank=False)

class EntityUpdateSerializer(VersionedSerializer, _EntityFields):
    name = text_field(200, allow_blank=False)

class StateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=RecordState.choices)
    date = serializers.DateField()
    reason = text_field(200, default="")

class EraseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="the personal-information request this answers")

class RevealSerializer(serializers.Serializer):
    fields = serializers.ListField(child=serializers.CharField(max_length=40), required=False, allow_empty=False,
                                   max_length=10, help_text="personal fields to reveal (all when left out)")
    purpose = serializers.CharField(max_length=300, allow_blank=True, help_text="why you need the clear values")

class RevealResultSerializer(serializers.Serializer):
    record_type = serializers.CharField()
    id = serializers.IntegerField()
    values = serializers.DictField(child=serializers.CharField(allow_blank=True))

class SearchSerializer(serializers.Serializer):
    id_number = text_field(40, allow_blank=False)
    phone = text_field(40, allow_blank=False)
    name = text_field(100, allow_blank=False)
    name_prefix = serializers.BooleanField(default=False, help_text="match names starting with `name`")
    scheme = serializers.SlugField(required=False, max_length=40)
    purpose = serializers.CharField(max_length=300, required=False, allow_blank=True, default="",
                                    help_text="why you search by personal data (required; it is logged)")

    def validate(self, attrs):
        given = [k for k in ("id_number", "phone", "name") if attrs.get(k)]
        if len(given) != 1:
            raise serializers.ValidationError({"non_field_errors": [
                _("give exactly one of id_number, phone or name")]})
        return attrs

class SearchResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    truncated = serializers.BooleanField()
    results = ResidentSerializer(many=True)
