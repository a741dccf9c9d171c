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

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.response import Response

from gridgov.core.api import client_address
from gridgov.people import services
from gridgov.people.api.base import SOURCE, PeopleViewMixin
from gridgov.people.filters import (
    BuildingFilter,
    EntityFilter,
    HouseFilter,
    HouseholdFilter,
    ResidentFilter,
)
from gridgov.people.history import record_as_of, record_history
from gridgov.people.models import (
    Building,
    GroupMembership,
    House,
    Household,
    LegalEntity,
    RecordHistory,
    Resident,
)
from gridgov.people.search import SearchThrottled, resident_search
from gridgov.people.selectors import (
    building_scope,
    entity_scope,
    house_scope,
    household_scope,
    membership_visible,
    resident_scope,
)
from gridgov.people.serializers.records import (
    BuildingCreateSerializer,
    BuildingSerializer,
    BuildingUpdateSerializer,
    EntityCreateSerializer,
    EntitySerializer,
    EntityUpdateSerializer,
    EraseSerializer,
    HistorySerializer,
    HouseCreateSerializer,
    HouseholdCreateSerializer,
    HouseholdSerializer,
    HouseholdUpdateSerializer,
    HouseSerializer,
    HouseUpdateSerializer,
    ResidentCreateSerializer,
    ResidentSerializer,
    ResidentUpdateSerializer,
    RevealResultSerializer,
    RevealSerializer,
    SearchResultSerializer,
    SearchSerializer,
    StateSerializer,
)
from gridgov.privacy.access import personal_data_reveal

SEARCH_LIMIT = 50

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
        obj = services.record_create(record_type=self.queryset.model._meta.model_name, values=data.validated_data,
                                     actor=request.user, source=SOURCE)
        return self._respond(self._fresh(obj), status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        obj = self.get_object()
        data = self.update_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        version = v.pop("version")
        services.record_update(record_type=obj._meta.model_name, record=obj, values=v, expected_version=version,
                               actor=request.user, source=SOURCE)
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

@_record_schema(EntitySerializer, EntityCreateSerializer, EntityUpdateSerializer, tag="people: entities")
class EntityViewSet(RevealMixin, RecordViewSet):
    """Legal entities (单位): the representative and the contact phone are masked."""

    queryset = LegalEntity.objects.all()
    serializer_class = EntitySerializer
    filterset_class = EntityFilter
    create_serializer = EntityCreateSerializer
    update_serializer = EntityUpdateSerializer

    def scope(self, qs):
        return entity_scope(qs, self.request.user)
