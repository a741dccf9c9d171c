"""Special groups and the residents tagged with them, party members and their paired households,
volunteers: /api/people/special-groups/, memberships/, party-members/, volunteers/."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.people import services
from gridgov.people.api.base import ID_REGEX, PeopleViewMixin, today_or
from gridgov.people.filters import (
    MembershipFilter,
    PartyMemberFilter,
    VolunteerFilter,
)
from gridgov.people.models import (
    GroupMembership,
    Household,
    HouseholdPairing,
    PartyMember,
    Resident,
    SpecialGroup,
    Volunteer,
)
from gridgov.people.selectors import (
    membership_visible,
    party_member_scope,
    volunteer_scope,
)
from gridgov.people.serializers.groups import (
    EndSerializer,
    MembershipCreateSerializer,
    MembershipSerializer,
    PairingSerializer,
    PairSerializer,
    PartyMemberCreateSerializer,
    PartyMemberSerializer,
    SpecialGroupSerializer,
    UnpairSerializer,
    VolunteerCreateSerializer,
    VolunteerSerializer,
)
from gridgov.privacy.access import can_reveal
from gridgov.territory.models import Node


@extend_schema_view(list=extend_schema(tags=["people: special groups"]),
                    retrieve=extend_schema(tags=["people: special groups"]))
class SpecialGroupViewSet(viewsets.ReadOnlyModelViewSet):
    """The catalogue of special groups and their attributes (configuration: visible to every user)."""

    lookup_value_regex = ID_REGEX
    serializer_class = SpecialGroupSerializer
    queryset = SpecialGroup.objects.order_by("order", "key")
    pagination_class = None

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
        membership = services.membership_add(resident=resident, group=group, start_date=today_or(v.get("start_date")),
                                             attributes=v.get("attributes"), actor=request.user)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EndSerializer, responses=MembershipSerializer, tags=["people: special groups"])
    @action(detail=True, methods=["post"], filter_backends=[])
    def end(self, request, pk=None):
        membership = self.get_object()
        data = EndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ended = services.membership_end(membership=membership, end_date=today_or(data.validated_data.get("end_date")),
                                        actor=request.user)
        return Response(MembershipSerializer(ended).data)

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
                                                start_date=today_or(v.get("start_date")),
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
                                          start_date=today_or(v.get("start_date")), actor=request.user)
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
        ended = services.household_unpair(pairing=pairing, end_date=today_or(v.get("end_date")), actor=request.user)
        return Response(PairingSerializer(ended).data)

    @extend_schema(request=EndSerializer, responses=PartyMemberSerializer, tags=["people: party members"])
    @action(detail=True, methods=["post"], filter_backends=[])
    def end(self, request, pk=None):
        """The member leaves the branch here; their open household pairings end too."""
        data = EndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.party_member_end(member=self.get_object(),
                                           end_date=today_or(data.validated_data.get("end_date")), actor=request.user)
        return self._member_response(member)

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
                                                start_date=today_or(v.get("start_date")), actor=request.user)
        return Response(VolunteerSerializer(volunteer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EndSerializer, responses=VolunteerSerializer, tags=["people: volunteers"])
    @action(detail=True, methods=["post"], filter_backends=[])
    def end(self, request, pk=None):
        data = EndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        volunteer = services.volunteer_end(volunteer=self.get_object(),
                                           end_date=today_or(data.validated_data.get("end_date")), actor=request.user)
        return Response(VolunteerSerializer(volunteer).data)
