"""REST API of base data: /api/people/...

Personal data is masked in every response: names, ID numbers, phones and addresses go out through
`access.masked_value`, never in clear, and no sealed or digest column leaves the server. The clear
values come only from `POST {id}/reveal/` (purpose stated, logged). Personal data never travels in a URL
either: lists filter on non-personal fields only, exact searches are POSTed. Every queryset starts from
the matching `selectors.*_scope`, so an object outside the caller's territory is a 404. Writes go through
`services`, with the record's `version` for optimistic concurrency.

Coordinates of residents, households and houses are taken on input but not answered: a point on a
dwelling would undo the masking of its address (buildings and units answer theirs). A birth date shows
as its year and an age band. `?as_of=` rebuilds a record from its history snapshot and masks it the
same way; the household members and special groups shown with it are those of today (groups: those
running on that day).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.response import Response

from gridgov.core.api import client_address
from gridgov.people import exports, services
from gridgov.people.filters import (
    AccessLogFilter,
    BuildingFilter,
    EntityFilter,
    HouseFilter,
    HouseholdFilter,
    MembershipFilter,
    PartyMemberFilter,
    ResidentFilter,
    VolunteerFilter,
    open_on,
    personal_query_refuse,
)
from gridgov.people.history import record_as_of, record_history
from gridgov.people.models import (
    Building,
    DataJob,
    GroupMembership,
    House,
    Household,
    HouseholdPairing,
    JobKind,
    JobStatus,
    LegalEntity,
    Occupancy,
    PartyMember,
    RecordHistory,
    RecordState,
    Relation,
    Resident,
    SpecialGroup,
    Volunteer,
)
from gridgov.people.search import SearchThrottled, resident_search
from gridgov.people.selectors import (
    building_scope,
    entity_scope,
    house_scope,
    household_scope,
    job_scope,
    membership_visible,
    party_member_scope,
    resident_scope,
    volunteer_scope,
)
from gridgov.privacy.access import can_reveal, derived_visible, masked_value, personal_data_reveal
from gridgov.privacy.models import AccessLog
from gridgov.privacy.selectors import access_log_scope
from gridgov.territory.models import LevelScheme, Node
from gridgov.territory.selectors import node_scope

SOURCE = "api"
SEARCH_LIMIT = 50
MAX_ID = 2**63 - 1
ID_REGEX = r"[0-9]{1,18}"  # 18 digits stay below 2**63: a longer id is a 404 from the router
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


def _no_nul(value: Any) -> None:
    """JSON going into the database must not hold NUL characters (PostgreSQL refuses them)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(_("Null characters are not allowed."))
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item)


# ------------------------------------------------------------------------------------------- permissions
class PeoplePermission(permissions.DjangoModelPermissions):
    """Django model permissions by action: every request needs `view` of the view's model (reads too),
    create needs `add`, updates `change`; a view lists what its own actions need in `action_perms`
    (a verb for its model, or 'app.codename')."""

    ACTIONS = {"list": (), "retrieve": (), "metadata": (), "create": ("add",), "partial_update": ("change",),
               "update": ("change",), "destroy": ("delete",)}

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        model = view.perm_model
        app, name = model._meta.app_label, model._meta.model_name
        needs = {**self.ACTIONS, **getattr(view, "action_perms", {})}.get(view.action)
        if needs is None:
            needs = () if request.method in permissions.SAFE_METHODS else ("change",)
        wanted = {f"{app}.view_{name}"} | {p if "." in p else f"{app}.{p}_{name}" for p in needs}
        return user.has_perms(wanted)


# ------------------------------------------------------------------------------------------- serializers
@extend_schema_field(OpenApiTypes.STR)
class MaskedField(serializers.Field):
    """A personal field, masked (`access.masked_value`)."""

    def __init__(self, personal: str, *, source_record: str | None = None, **kwargs):
        self.personal = personal
        self.source_record = source_record  # the personal field is on a related record (membership → resident)
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value):
        if self.source_record:
            value = getattr(value, self.source_record)
        return masked_value(value, self.personal)


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


# ---------------------------------------------------------------------------------------- input bodies
def _id(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def _text(limit: int, **kwargs):
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_blank", True)
    return serializers.CharField(max_length=limit, trim_whitespace=True, **kwargs)


class _Attributes(serializers.DictField):
    def __init__(self, **kwargs):
        super().__init__(required=False, validators=[_no_nul], **kwargs)


class RecordWriteSerializer(serializers.Serializer):
    node = _id(required=False, help_text="cell id (else the cell of the household / house / building, else the "
                                         "cell at lon, lat)")
    lon = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    attributes = _Attributes()


class RecordCreateSerializer(RecordWriteSerializer):
    scheme = serializers.SlugField(required=False, max_length=40,
                                   help_text="level scheme key (needed only when no cell or parent record is given)")


class VersionedSerializer(RecordWriteSerializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1,
                                       help_text="the version you read; a newer one on the server is a 400")


class _ResidentFields(serializers.Serializer):
    phone = _text(40, help_text="clear in the request body only; answered masked")
    household = _id(required=False, allow_null=True)
    relation = serializers.ChoiceField(choices=Relation.choices, required=False, allow_blank=True)
    house = _id(required=False, allow_null=True)
    registered_here = serializers.BooleanField(required=False)
    living_here = serializers.BooleanField(required=False)
    registered_address = _text(300)
    actual_address = _text(300)
    moved_in_date = serializers.DateField(required=False, allow_null=True)


class ResidentCreateSerializer(RecordCreateSerializer, _ResidentFields):
    name = _text(100, required=True, allow_blank=False)
    id_number = _text(40, required=True, allow_blank=False,
                      help_text="clear in the request body only; answered masked")


class ResidentUpdateSerializer(VersionedSerializer, _ResidentFields):
    name = _text(100, allow_blank=False)
    id_number = _text(40, allow_blank=False)


class HouseholdCreateSerializer(RecordCreateSerializer):
    number = _text(40, required=True, allow_blank=False)
    house = _id(required=False, allow_null=True)
    address = _text(300)
    kind = serializers.ChoiceField(choices=Household.Kind.choices, required=False)


class HouseholdUpdateSerializer(VersionedSerializer):
    house = _id(required=False, allow_null=True)
    address = _text(300)
    kind = serializers.ChoiceField(choices=Household.Kind.choices, required=False)


class _HouseFields(serializers.Serializer):
    building = _id(required=False, allow_null=True)
    building_no = _text(20)
    entrance_no = _text(20)
    floor = serializers.IntegerField(required=False, allow_null=True, min_value=-32768, max_value=32767)
    room = _text(20)
    occupancy = serializers.ChoiceField(choices=Occupancy.choices, required=False)
    area_m2 = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1e9)


class HouseCreateSerializer(RecordCreateSerializer, _HouseFields):
    code = _text(60, required=True, allow_blank=False)
    address = _text(300, required=True, allow_blank=False)


class HouseUpdateSerializer(VersionedSerializer, _HouseFields):
    address = _text(300, allow_blank=False)


class BuildingCreateSerializer(RecordCreateSerializer):
    code = _text(40, required=True, allow_blank=False)
    name = _text(200)
    address = _text(300)
    floors = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=32767)


class BuildingUpdateSerializer(VersionedSerializer):
    name = _text(200, allow_blank=False)
    address = _text(300)
    floors = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=32767)


class _EntityFields(serializers.Serializer):
    industry = _text(100)
    address = _text(300)
    representative = _text(100)
    phone = _text(40, help_text="clear in the request body only; answered masked")
    employees = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31 - 1)
    dedicated_node = _id(required=False, allow_null=True)


class EntityCreateSerializer(RecordCreateSerializer, _EntityFields):
    name = _text(200, required=True, allow_blank=False)
    credit_code = _text(40, required=True, allow_blank=False)


class EntityUpdateSerializer(VersionedSerializer, _EntityFields):
    name = _text(200, allow_blank=False)


class StateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=RecordState.choices)
    date = serializers.DateField()
    reason = _text(200, default="")


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
    id_number = _text(40, allow_blank=False)
    phone = _text(40, allow_blank=False)
    name = _text(100, allow_blank=False)
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


# ------------------------------------------------------------------------------------------ view helpers
def _parse_as_of(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError({"as_of": _("not a date (YYYY-MM-DD)")}) from None


def instance_from_snapshot(model: type[models.Model], row: RecordHistory, created_at) -> models.Model:
    """An unsaved record rebuilt from a history snapshot (sealed columns stay sealed)."""
    obj = model()
    for field in model._meta.concrete_fields:
        if field.attname in row.snapshot:
            value = row.snapshot[field.attname]
            if value is not None and isinstance(field, models.DateField):  # DateTimeField is one too
                value = field.to_python(value)
            setattr(obj, field.attname, value)
    obj.pk = row.record_id
    obj.version = row.version
    obj.created_at = created_at
    obj.updated_at = row.at
    obj._state.adding = False
    return obj


class ScopedRefs:
    """Ids in a request body resolved to records in the caller's territory (else a 400 naming the field:
    an id outside the territory is reported like an unknown one)."""

    SCOPES = {Node: node_scope, Household: household_scope, House: house_scope, Building: building_scope,
              Resident: resident_scope, LegalEntity: entity_scope}

    def __init__(self, user):
        self.user = user

    def get(self, model, pk, field):
        if pk is None:
            return None
        obj = self.SCOPES[model](model.objects.filter(pk=pk), self.user).first()
        if obj is None:
            raise ValidationError({field: _("unknown, or outside your territory")})
        return obj

    def cell_in_scope(self, cell: Node, field: str = "node") -> Node:
        if not node_scope(Node.objects.filter(pk=cell.pk), self.user).exists():
            raise ValidationError({field: _("the cell is outside your territory")})
        return cell


def _scheme(key: str | None, *records) -> LevelScheme:
    """The scheme of the first record given, else the one named by `key`."""
    for record in records:
        if record is not None:
            if key and record.scheme.key != key:
                raise ValidationError({"scheme": _("the records given belong to another level scheme")})
            return record.scheme
    if not key:
        raise ValidationError({"scheme": _("give the level scheme, or a cell or record it belongs to")})
    scheme = LevelScheme.objects.filter(key=key).first()
    if scheme is None:
        raise ValidationError({"scheme": _("unknown level scheme")})
    return scheme


# ------------------------------------------------------------------------------------------------ views
class PeopleViewMixin:
    """Ids are 64-bit integers; personal data in a query string is refused."""

    lookup_value_regex = ID_REGEX
    permission_classes = [PeoplePermission]

    @property
    def perm_model(self):
        return self.queryset.model

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        personal_query_refuse(request.query_params)

    @property
    def refs(self) -> ScopedRefs:
        return ScopedRefs(self.request.user)


AS_OF = OpenApiParameter("as_of", OpenApiTypes.DATE, description="the record as it was at the end of that day")


class RecordViewSet(PeopleViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A base-data record type: list (filtered, scoped), detail (also as of a date), create and change
    through the services, state changes, history, erasure."""

    action_perms = {"history": (), "state": ("change",), "erase": (), "reveal": ()}
    create_serializer: type[serializers.Serializer]
    update_serializer: type[serializers.Serializer]

    def scope(self, qs):
        raise NotImplementedError

    def get_queryset(self):
        qs = self.queryset.model.objects.select_related("scheme", "node")
        return self.scope(qs).order_by("id")

    def _fresh(self, obj):
        return self.get_queryset().get(pk=obj.pk)

    def _respond(self, obj, code=status.HTTP_200_OK, **context) -> Response:
        return Response(self.get_serializer(obj, context={**self.get_serializer_context(), **context}).data,
                        status=code)

    @extend_schema(parameters=[AS_OF])
    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        value = request.query_params.get("as_of")
        if not value:
            return self._respond(obj)
        on = _parse_as_of(value)
        if on < dt.date(1970, 1, 2):
            raise Http404
        on = min(on, dt.date(9999, 12, 30))
        model = type(obj)
        row = record_as_of(model, obj.pk, on)
        if row is None or not row.snapshot:
            raise Http404
        first = record_history(model, obj.pk).order_by("version").values_list("at", flat=True).first()
        return self._respond(instance_from_snapshot(model, row, first), as_of=on)

    @extend_schema(responses=HistorySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request, pk=None):
        obj = self.get_object()
        rows = record_history(obj).select_related("actor").order_by("version")
        return Response(HistorySerializer(rows, many=True).data)

    def create(self, request, *args, **kwargs):
        data = self.create_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            obj = self.perform_record_create(dict(data.validated_data))
        return self._respond(self._fresh(obj), status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        obj = self.get_object()
        data = self.update_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        version = v.pop("version")
        with transaction.atomic():
            self.perform_record_update(obj, v, version)
        return self._respond(self._fresh(obj))

    @extend_schema(request=StateSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def state(self, request, pk=None):
        obj = self.get_object()
        data = StateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.record_set_state(record=obj, state=v["state"], date=v["date"], reason=v["reason"],
                                  actor=request.user, source=SOURCE)
        return self._respond(self._fresh(obj))

    @extend_schema(request=EraseSerializer, responses={204: None})
    @action(detail=True, methods=["post"], filter_backends=[])
    def erase(self, request, pk=None):
        obj = self.get_object()
        data = EraseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.record_erase(record=obj, actor=request.user, reason=data.validated_data["reason"],
                              remote_addr=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    # subclasses: turn validated input into a service call
    def perform_record_create(self, v: dict) -> models.Model:
        raise NotImplementedError

    def perform_record_update(self, obj, v: dict, version: int) -> list[str]:
        raise NotImplementedError

    def _cell(self, v: dict, scheme: LevelScheme, within=None) -> Node:
        """The cell of a new record (given, inherited or located), which must lie in the caller's territory."""
        cell = services.cell_resolve(scheme=scheme, node=v.pop("node_obj", None), lon=v.get("lon"), lat=v.get("lat"),
                                     within=within)
        return self.refs.cell_in_scope(cell)

    def _node_change(self, v: dict, field: str = "node") -> None:
        if field in v:
            v[field] = self.refs.get(Node, v[field], field)


class RevealMixin:
    @extend_schema(request=RevealSerializer, responses=RevealResultSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def reveal(self, request, pk=None):
        """The clear values of personal fields, after logging who, when, which fields and why. 403 when
        the caller's role may not reveal personal data in the record's cell."""
        obj = self.get_object()
        data = RevealSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        values = personal_data_reveal(user=request.user, record=obj, fields=v.get("fields"), purpose=v["purpose"],
                                      remote_addr=client_address(request))
        return Response({"record_type": obj._meta.model_name, "id": obj.pk, "values": values})


def _record_schema(read, create, update, *, tag: str):
    return extend_schema_view(
        list=extend_schema(tags=[tag]),
        retrieve=extend_schema(tags=[tag]),
        create=extend_schema(tags=[tag], request=create, responses={201: read}),
        partial_update=extend_schema(tags=[tag], request=update, responses=read),
        state=extend_schema(tags=[tag], responses=read),
        history=extend_schema(tags=[tag]),
        erase=extend_schema(tags=[tag]),
    )


@_record_schema(ResidentSerializer, ResidentCreateSerializer, ResidentUpdateSerializer, tag="people: residents")
class ResidentViewSet(RevealMixin, RecordViewSet):
    """Residents (实有人口), masked. Search by ID number, phone or name: POST `search/`."""

    queryset = Resident.objects.all()
    serializer_class = ResidentSerializer
    filterset_class = ResidentFilter
    create_serializer = ResidentCreateSerializer
    update_serializer = ResidentUpdateSerializer
    action_perms = {**RecordViewSet.action_perms, "search": ()}

    def scope(self, qs):
        return resident_scope(qs, self.request.user)

    def get_queryset(self):
        groups = membership_visible(GroupMembership.objects.select_related("group"), self.request.user) \
            .order_by("start_date", "id")
        return super().get_queryset().select_related("household").prefetch_related(
            Prefetch("groups", queryset=groups, to_attr="visible_groups"))

    def perform_record_create(self, v):
        household = self.refs.get(Household, v.pop("household", None), "household")
        house = self.refs.get(House, v.pop("house", None), "house")
        v["node_obj"] = self.refs.get(Node, v.pop("node", None), "node")
        scheme = _scheme(v.pop("scheme", None), v["node_obj"], household, house)
        cell = self._cell(v, scheme, within=household or house)
        return services.resident_create(scheme=scheme, node=cell, household=household, house=house, **v,
                                        actor=self.request.user, source=SOURCE)

    def perform_record_update(self, obj, v, version):
        for field, model in (("household", Household), ("house", House)):
            if field in v:
                v[field] = self.refs.get(model, v[field], field)
        self._node_change(v)
        return services.resident_update(resident=obj, expected_version=version, actor=self.request.user,
                                        source=SOURCE, **v)

    @extend_schema(request=SearchSerializer, responses=SearchResultSerializer, tags=["people: residents"])
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def search(self, request):
        """Exact search by ID number or phone (through their keyed digests), or by name (exact or prefix),
        sent in the body so that no personal data ends up in a URL. Only for roles that may reveal personal
        data, and only among the residents of the cells where they may; a purpose is required, every search
        is logged (access log and audit) and counted per user (429 past PEOPLE_SEARCH_RATE). Answers masked
        residents (`gridgov/people/search.py`)."""
        data = SearchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        qs = self.get_queryset()
        if v.get("scheme"):
            qs = qs.filter(scheme__key=v["scheme"])
        if v.get("id_number"):
            by, value = "id_number", v["id_number"]
        elif v.get("phone"):
            by, value = "phone", v["phone"]
        else:
            by, value = ("name_prefix" if v["name_prefix"] else "name"), v["name"]
        try:
            found = resident_search(user=request.user, qs=qs, by=by, value=value, purpose=v["purpose"],
                                    remote_addr=client_address(request), limit=SEARCH_LIMIT)
        except SearchThrottled as exc:
            raise Throttled(wait=exc.wait, detail=str(exc.args[0])) from None
        return Response({"count": len(found.rows), "truncated": found.truncated,
                         "results": ResidentSerializer(found.rows, many=True,
                                                       context=self.get_serializer_context()).data})


@_record_schema(HouseholdSerializer, HouseholdCreateSerializer, HouseholdUpdateSerializer, tag="people: households")
class HouseholdViewSet(RevealMixin, RecordViewSet):
    """Households (户), with their members (masked)."""

    queryset = Household.objects.all()
    serializer_class = HouseholdSerializer
    filterset_class = HouseholdFilter
    create_serializer = HouseholdCreateSerializer
    update_serializer = HouseholdUpdateSerializer

    def scope(self, qs):
        return household_scope(qs, self.request.user)

    def get_queryset(self):
        members = resident_scope(Resident.objects.select_related("node"), self.request.user).order_by("id")
        return super().get_queryset().select_related("house").prefetch_related(
            Prefetch("members", queryset=members, to_attr="scoped_members"))

    def perform_record_create(self, v):
        house = self.refs.get(House, v.pop("house", None), "house")
        v["node_obj"] = self.refs.get(Node, v.pop("node", None), "node")
        scheme = _scheme(v.pop("scheme", None), v["node_obj"], house)
        cell = self._cell(v, scheme, within=house)
        return services.household_create(scheme=scheme, node=cell, house=house, **v, actor=self.request.user,
                                         source=SOURCE)

    def perform_record_update(self, obj, v, version):
        if "house" in v:
            v["house"] = self.refs.get(House, v["house"], "house")
        self._node_change(v)
        return services.household_update(household=obj, expected_version=version, actor=self.request.user,
                                         source=SOURCE, **v)


@_record_schema(HouseSerializer, HouseCreateSerializer, HouseUpdateSerializer, tag="people: houses")
class HouseViewSet(RevealMixin, RecordViewSet):
    """Houses (房屋): the exact address is masked."""

    queryset = House.objects.all()
    serializer_class = HouseSerializer
    filterset_class = HouseFilter
    create_serializer = HouseCreateSerializer
    update_serializer = HouseUpdateSerializer

    def scope(self, qs):
        return house_scope(qs, self.request.user)

    def get_queryset(self):
        return super().get_queryset().select_related("building")

    def perform_record_create(self, v):
        building = self.refs.get(Building, v.pop("building", None), "building")
        v["node_obj"] = self.refs.get(Node, v.pop("node", None), "node")
        scheme = _scheme(v.pop("scheme", None), v["node_obj"], building)
        cell = self._cell(v, scheme, within=building)
        return services.house_create(scheme=scheme, node=cell, building=building, **v, actor=self.request.user,
                                     source=SOURCE)

    def perform_record_update(self, obj, v, version):
        if "building" in v:
            v["building"] = self.refs.get(Building, v["building"], "building")
            if v["building"] is not None and v["building"].scheme_id != obj.scheme_id:
                raise ValidationError({"building": _("belongs to another level scheme")})
        self._node_change(v)
        return services.house_update(house=obj, expected_version=version, actor=self.request.user, source=SOURCE,
                                     **v)


@_record_schema(BuildingSerializer, BuildingCreateSerializer, BuildingUpdateSerializer, tag="people: buildings")
class BuildingViewSet(RecordViewSet):
    """Buildings (楼栋) and village compounds."""

    queryset = Building.objects.all()
    serializer_class = BuildingSerializer
    filterset_class = BuildingFilter
    create_serializer = BuildingCreateSerializer
    update_serializer = BuildingUpdateSerializer

    def scope(self, qs):
        return building_scope(qs, self.request.user)

    def perform_record_create(self, v):
        v["node_obj"] = self.refs.get(Node, v.pop("node", None), "node")
        scheme = _scheme(v.pop("scheme", None), v["node_obj"])
        cell = self._cell(v, scheme)
        return services.building_create(scheme=scheme, node=cell, name=v.pop("name", ""), **v,
                                        actor=self.request.user, source=SOURCE)

    def perform_record_update(self, obj, v, version):
        self._node_change(v)
        return services.building_update(building=obj, expected_version=version, actor=self.request.user,
                                        source=SOURCE, **v)


@_record_schema(EntitySerializer, EntityCreateSerializer, EntityUpdateSerializer, tag="people: entities")
class EntityViewSet(RevealMixin, RecordViewSet):
    """Legal-entity units (单位): the representative and the contact phone are masked."""

    queryset = LegalEntity.objects.all()
    serializer_class = EntitySerializer
    filterset_class = EntityFilter
    create_serializer = EntityCreateSerializer
    update_serializer = EntityUpdateSerializer

    def scope(self, qs):
        return entity_scope(qs, self.request.user)

    def perform_record_create(self, v):
        dedicated = self.refs.get(Node, v.pop("dedicated_node", None), "dedicated_node")
        v["node_obj"] = self.refs.get(Node, v.pop("node", None), "node") or dedicated
        scheme = _scheme(v.pop("scheme", None), v["node_obj"])
        cell = self._cell(v, scheme)
        return services.entity_create(scheme=scheme, node=cell, dedicated_node=dedicated, **v,
                                      actor=self.request.user, source=SOURCE)

    def perform_record_update(self, obj, v, version):
        self._node_change(v)
        self._node_change(v, "dedicated_node")
        return services.entity_update(entity=obj, expected_version=version, actor=self.request.user, source=SOURCE,
                                      **v)


# ---------------------------------------------------------------------------------------- special groups
class SpecialGroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = SpecialGroup
        fields = ["id", "key", "name_zh", "name_en", "name", "fields", "sensitive", "order"]


@extend_schema_view(list=extend_schema(tags=["people: special groups"]),
                    retrieve=extend_schema(tags=["people: special groups"]))
class SpecialGroupViewSet(viewsets.ReadOnlyModelViewSet):
    """The catalogue of special groups and their attributes (configuration: visible to every user)."""

    lookup_value_regex = ID_REGEX
    serializer_class = SpecialGroupSerializer
    queryset = SpecialGroup.objects.order_by("order", "key")
    pagination_class = None


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
    resident = _id()
    group = serializers.SlugField(max_length=40, help_text="special-group key")
    start_date = serializers.DateField(required=False, help_text="today when left out")
    attributes = _Attributes()


class EndSerializer(serializers.Serializer):
    end_date = serializers.DateField(required=False, help_text="today when left out")


def _today_or(value: dt.date | None) -> dt.date:
    return value or timezone.localdate()


@extend_schema_view(list=extend_schema(tags=["people: special groups"]),
                    retrieve=extend_schema(tags=["people: special groups"]))
class MembershipViewSet(PeopleViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Residents tagged with special groups, in scope; membership of a sensitive group only where the
    caller may reveal personal data."""

    queryset = GroupMembership.objects.all()
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter
    action_perms = {"end": ("change",)}

    def get_queryset(self):
        qs = GroupMembership.objects.select_related("group", "resident")
        return membership_visible(qs, self.request.user).order_by("id")

    @extend_schema(request=MembershipCreateSerializer, responses={201: MembershipSerializer},
                   tags=["people: special groups"])
    def create(self, request, *args, **kwargs):
        data = MembershipCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        resident = self.refs.get(Resident, v["resident"], "resident")
        group = SpecialGroup.objects.filter(key=v["group"]).first()
        if group is None:
            raise ValidationError({"group": _("unknown special group")})
        if group.sensitive and not can_reveal(request.user, resident.node):
            raise PermissionDenied(_("membership of this group is personal data your role may not handle in this "
                                     "cell"))
        membership = services.membership_add(resident=resident, group=group, start_date=_today_or(v.get("start_date")),
                                             attributes=v.get("attributes"), actor=request.user)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EndSerializer, responses=MembershipSerializer, tags=["people: special groups"])
    @action(detail=True, methods=["post"], filter_backends=[])
    def end(self, request, pk=None):
        membership = self.get_object()
        data = EndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ended = services.membership_end(membership=membership, end_date=_today_or(data.validated_data.get("end_date")),
                                        actor=request.user)
        return Response(MembershipSerializer(ended).data)


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
    resident = _id()
    branch_node = _id(required=False, help_text="the party branch's cell (the resident's cell when left out)")
    start_date = serializers.DateField(required=False, help_text="today when left out")
    joined_date = serializers.DateField(required=False, allow_null=True)
    work_unit = _text(200)


class PairSerializer(serializers.Serializer):
    household = _id()
    start_date = serializers.DateField(required=False, help_text="today when left out")


class UnpairSerializer(serializers.Serializer):
    pairing = _id()
    end_date = serializers.DateField(required=False, help_text="today when left out")


@extend_schema_view(list=extend_schema(tags=["people: party members"]),
                    retrieve=extend_schema(tags=["people: party members"]))
class PartyMemberViewSet(PeopleViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Party members living in the territory and the households they are paired with (党员包户)."""

    queryset = PartyMember.objects.all()
    serializer_class = PartyMemberSerializer
    filterset_class = PartyMemberFilter
    action_perms = {"pair": ("people.add_householdpairing",), "unpair": ("people.change_householdpairing",),
                    "end": ("change",)}

    def get_queryset(self):
        pairings = HouseholdPairing.objects.select_related("household").order_by("start_date", "id")
        qs = PartyMember.objects.select_related("resident", "branch_node").prefetch_related(
            Prefetch("pairings", queryset=pairings))
        return party_member_scope(qs, self.request.user).order_by("id")

    def _member_response(self, member, code=status.HTTP_200_OK):
        return Response(PartyMemberSerializer(self.get_queryset().get(pk=member.pk)).data, status=code)

    @extend_schema(request=PartyMemberCreateSerializer, responses={201: PartyMemberSerializer},
                   tags=["people: party members"])
    def create(self, request, *args, **kwargs):
        data = PartyMemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        resident = self.refs.get(Resident, v["resident"], "resident")
        branch = self.refs.get(Node, v.get("branch_node"), "branch_node") or resident.node
        member = services.party_member_register(resident=resident, branch_node=branch,
                                                start_date=_today_or(v.get("start_date")),
                                                joined_date=v.get("joined_date"), work_unit=v.get("work_unit", ""),
                                                actor=request.user)
        return self._member_response(member, status.HTTP_201_CREATED)

    @extend_schema(request=PairSerializer, responses={201: PairingSerializer}, tags=["people: party members"])
    @action(detail=True, methods=["post"], filter_backends=[])
    def pair(self, request, pk=None):
        member = self.get_object()
        data = PairSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        household = self.refs.get(Household, v["household"], "household")
        pairing = services.household_pair(member=member, household=household,
                                          start_date=_today_or(v.get("start_date")), actor=request.user)
        return Response(PairingSerializer(pairing).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UnpairSerializer, responses=PairingSerializer, tags=["people: party members"])
    @action(detail=True, methods=["post"], filter_backends=[])
    def unpair(self, request, pk=None):
        member = self.get_object()
        data = UnpairSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        pairing = member.pairings.filter(pk=v["pairing"]).first()
        if pairing is None:
            raise ValidationError({"pairing": _("not a pairing of this party member")})
        ended = services.household_unpair(pairing=pairing, end_date=_today_or(v.get("end_date")), actor=request.user)
        return Response(PairingSerializer(ended).data)

    @extend_schema(request=EndSerializer, responses=PartyMemberSerializer, tags=["people: party members"])
    @action(detail=True, methods=["post"], filter_backends=[])
    def end(self, request, pk=None):
        """The member leaves the branch here; their open household pairings end too."""
        data = EndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.party_member_end(member=self.get_object(),
                                           end_date=_today_or(data.validated_data.get("end_date")), actor=request.user)
        return self._member_response(member)


class VolunteerSerializer(serializers.ModelSerializer):
    resident_name = MaskedField("name", source_record="resident")
    node_name = serializers.CharField(source="node.name", read_only=True)

    class Meta:
        model = Volunteer
        fields = ["id", "resident", "resident_name", "node", "node_name", "skills", "start_date", "end_date"]


class VolunteerCreateSerializer(serializers.Serializer):
    resident = _id()
    node = _id(required=False, help_text="the cell volunteered in (the resident's cell when left out)")
    skills = _text(300)
    start_date = serializers.DateField(required=False, help_text="today when left out")


@extend_schema_view(list=extend_schema(tags=["people: volunteers"]),
                    retrieve=extend_schema(tags=["people: volunteers"]))
class VolunteerViewSet(PeopleViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Residents registered as volunteers."""

    queryset = Volunteer.objects.all()
    serializer_class = VolunteerSerializer
    filterset_class = VolunteerFilter
    action_perms = {"end": ("change",)}

    def get_queryset(self):
        qs = Volunteer.objects.select_related("resident", "node")
        return volunteer_scope(qs, self.request.user).order_by("id")

    @extend_schema(request=VolunteerCreateSerializer, responses={201: VolunteerSerializer},
                   tags=["people: volunteers"])
    def create(self, request, *args, **kwargs):
        data = VolunteerCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        resident = self.refs.get(Resident, v["resident"], "resident")
        node = self.refs.get(Node, v.get("node"), "node")
        volunteer = services.volunteer_register(resident=resident, node=node, skills=v.get("skills", ""),
                                                start_date=_today_or(v.get("start_date")), actor=request.user)
        return Response(VolunteerSerializer(volunteer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EndSerializer, responses=VolunteerSerializer, tags=["people: volunteers"])
    @action(detail=True, methods=["post"], filter_backends=[])
    def end(self, request, pk=None):
        data = EndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        volunteer = services.volunteer_end(volunteer=self.get_object(),
                                           end_date=_today_or(data.validated_data.get("end_date")), actor=request.user)
        return Response(VolunteerSerializer(volunteer).data)


# -------------------------------------------------------------------------------------------- access log
class AccessLogSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AccessLog
        fields = ["id", "at", "user", "kind", "record_type", "record_id", "node", "fields", "purpose", "rows",
                  "detail", "remote_addr"]


@extend_schema_view(list=extend_schema(tags=["people: access log"]),
                    retrieve=extend_schema(tags=["people: access log"]))
class AccessLogViewSet(PeopleViewMixin, viewsets.ReadOnlyModelViewSet):
    """Who revealed, exported, imported or erased personal data (needs `privacy.view_accesslog`), about
    the cells of the caller's territory."""

    queryset = AccessLog.objects.all()
    serializer_class = AccessLogSerializer
    filterset_class = AccessLogFilter

    def get_queryset(self):
        return access_log_scope(AccessLog.objects.select_related("user"), self.request.user).order_by("-at", "-id")


# ----------------------------------------------------------------------------------------------- exports
class ExportJobSerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField(read_only=True)
    format = serializers.SerializerMethodField()
    reveal = serializers.SerializerMethodField()
    filters = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField()

    class Meta:
        model = DataJob
        fields = ["id", "record_type", "status", "progress", "total", "done", "format", "reveal", "filters",
                  "summary", "error", "file_name", "download", "created_at", "started_at", "finished_at"]

    def get_format(self, obj) -> str:
        return obj.options.get("format", "")

    def get_reveal(self, obj) -> bool:
        return bool(obj.options.get("reveal"))

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_filters(self, obj):
        return obj.options.get("filters", {})

    def get_download(self, obj) -> str | None:
        if obj.status != JobStatus.DONE or not obj.result_path:
            return None
        request = self.context.get("request")
        path = f"/api/people/exports/{obj.pk}/download/"
        return request.build_absolute_uri(path) if request is not None else path


class ExportCreateSerializer(serializers.Serializer):
    record_type = serializers.ChoiceField(choices=sorted(exports.EXPORT_KINDS))
    scheme = serializers.SlugField(required=False, max_length=40,
                                   help_text="level scheme key (else the scheme of the `cell` filter)")
    filters = serializers.DictField(required=False, default=dict, validators=[_no_nul],
                                    help_text="the list's filters (non-personal fields only), e.g. "
                                              "{\"cell\": 12, \"state\": \"ACTIVE\"}")
    format = serializers.ChoiceField(choices=list(exports.FORMATS), default="xlsx")
    reveal = serializers.BooleanField(default=False,
                                      help_text="personal data in clear where your role may reveal it (logged "
                                                "per record)")
    purpose = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


@extend_schema_view(list=extend_schema(tags=["people: exports"]), retrieve=extend_schema(tags=["people: exports"]))
class ExportViewSet(PeopleViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own list exports (XLSX or CSV): small ones are produced at once, larger ones in the
    background; the file is downloadable by its owner only."""

    queryset = DataJob.objects.all()
    serializer_class = ExportJobSerializer
    filter_backends: list = []
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return job_scope(DataJob.objects.filter(kind=JobKind.EXPORT), self.request.user).order_by("-created_at",
                                                                                                   "-id")

    @extend_schema(request=ExportCreateSerializer, responses={201: ExportJobSerializer}, tags=["people: exports"])
    def create(self, request, *args, **kwargs):
        data = ExportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        kind = exports.EXPORT_KINDS[v["record_type"]]
        if not request.user.has_perm(f"people.view_{kind.model._meta.model_name}"):
            raise PermissionDenied(_("you do not have permission to see these records"))
        scheme = exports.export_scheme(key=v.get("scheme"), filters=v["filters"])
        job = exports.export_job_create(user=request.user, scheme=scheme, record_type=v["record_type"],
                                        filters=v["filters"], fmt=v["format"], reveal=v["reveal"],
                                        purpose=v["purpose"], remote_addr=client_address(request))
        job.refresh_from_db()
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, media): OpenApiTypes.BINARY for media in exports.FORMATS.values()},
                   tags=["people: exports"])
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        job = get_object_or_404(self.get_queryset(), pk=pk)
        if job.status != JobStatus.DONE or not job.result_path:
            raise Http404(_("the file is not ready yet"))
        try:
            handle = exports.export_file_open(job=job, user=request.user, remote_addr=client_address(request))
        except (FileNotFoundError, OSError):
            raise Http404(_("the file has been removed; export the list again")) from None
        response = FileResponse(handle, as_attachment=True, filename=job.file_name,
                                content_type=exports.FORMATS[job.options.get("format", "xlsx")])
        response["Cache-Control"] = "no-store, private"
        return response
