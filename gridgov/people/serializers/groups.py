"""Special groups, memberships, party members and their pairings, volunteers."""

from __future__ import annotations

from rest_framework import serializers

from gridgov.people.models import (
    GroupMembership,
    HouseholdPairing,
    PartyMember,
    SpecialGroup,
    Volunteer,
)
from gridgov.people.serializers.fields import AttributesField, MaskedField, id_field, text_field


# ---------------------------------------------------------------------------------------- special groups
class SpecialGroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = SpecialGroup
        fields = ["id", "key", "name_zh", "name_en", "name", "fields", "sensitive", "order"]

# ------------------------------------------------------------------------------------------- memberships
class MembershipSerializer(serializers.ModelSerializer):
    resident_name = MaskedField("name", source_record="resident")
    group = serializers.SlugRelatedField(slug_field="key", read_only=True)
    group_name = serializers.CharField(source="group.name", read_only=True)
    sensitive = serializers.BooleanField(source="group.sensitive", read_only=True)
    node = serializers.IntegerField(source="resident.node_id", read_only=True)

    class Meta:
        model = GroupMembership
        fields = ["id", "resident", "resident_name", "node", "group", "group_name", "sensitive", "attributes",
                  "start_date", "end_date", "created_at"]

class MembershipCreateSerializer(serializers.Serializer):
    resident = id_field()
    group = serializers.SlugField(max_length=40, help_text="special-group key")
    start_date = serializers.DateField(required=False, help_text="today when left out")
    attributes = AttributesField()

class EndSerializer(serializers.Serializer):
    end_date = serializers.DateField(required=False, help_text="today when left out")

# ------------------------------------------------------------------------------ party members, volunteers
class PairingSerializer(serializers.ModelSerializer):
    household_number = serializers.CharField(source="household.number", read_only=True)

    class Meta:
        model = HouseholdPairing
        fields = ["id", "member", "household", "household_number", "start_date", "end_date"]

class PartyMemberSerializer(serializers.ModelSerializer):
    resident_name = MaskedField("name", source_record="resident")
    branch_node_name = serializers.CharField(source="branch_node.name", read_only=True)
    pairings = PairingSerializer(many=True, read_only=True)

    class Meta:
        model = PartyMember
        fields = ["id", "resident", "resident_name", "branch_node", "branch_node_name", "joined_date", "work_unit",
                  "start_date", "end_date", "pairings"]

class PartyMemberCreateSerializer(serializers.Serializer):
    resident = id_field()
    branch_node = id_field(required=False, help_text="the party branch's cell (the resident's cell when left out)")
    start_date = serializers.DateField(required=False, help_text="today when left out")
    joined_date = serializers.DateField(required=False, allow_null=True)
    work_unit = text_field(200)

class PairSerializer(serializers.Serializer):
    household = id_field()
    start_date = serializers.DateField(required=False, help_text="today when left out")

class UnpairSerializer(serializers.Serializer):
    pairing = id_field()
    end_date = serializers.DateField(required=False, help_text="today when left out")

class VolunteerSerializer(serializers.ModelSerializer):
    resident_name = MaskedField("name", source_record="resident")
    node_name = serializers.CharField(source="node.name", read_only=True)

    class Meta:
        model = Volunteer
        fields = ["id", "resident", "resident_name", "node", "node_name", "skills", "start_date", "end_date"]

class VolunteerCreateSerializer(serializers.Serializer):
    resident = id_field()
    node = id_field(required=False, help_text="the cell volunteered in (the resident's cell when left out)")
    skills = text_field(300)
    start_date = serializers.DateField(required=False, help_text="today when left out")
