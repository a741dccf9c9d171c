"""REST API for people in charge: roles, people and assignments (scoped), and machine tokens."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.accounts import services
from gridgov.accounts.models import Assignment, Person, Role
from gridgov.accounts.selectors import assignment_scope, person_scope
from gridgov.core.filters import IdFilter
from gridgov.territory.models import Node
from gridgov.territory.selectors import node_scope


class RoleSerializer(serializers.ModelSerializer):
    scheme = serializers.SlugRelatedField(slug_field="key", read_only=True)
    levels = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)

    class Meta:
        model = Role
        fields = ["id", "scheme", "key", "name_zh", "name_en", "category", "levels", "grants_scope", "reveals_personal_data", "duties", "order"]


class PersonSerializer(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = ["id", "name", "phone", "organisation"]


class AssignmentSerializer(serializers.ModelSerializer):
    person_name = serializers.CharField(source="person.name", read_only=True)
    node_code = serializers.CharField(source="node.code", read_only=True)
    node_name = serializers.CharField(source="node.name", read_only=True)
    role_key = serializers.CharField(source="role.key", read_only=True)

    class Meta:
        model = Assignment
        fields = ["id", "person", "person_name", "node", "node_code", "node_name", "role", "role_key", "start_date",
                  "end_date", "duties", "is_public", "end_reason"]
        read_only_fields = ["end_reason"]


class EndAssignmentSerializer(serializers.Serializer):
    end_date = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ModelPermissionsOrRead(permissions.DjangoModelPermissions):
    """Reads for any logged-in user; writes need the model's add / change permission."""

    perms_map = {**permissions.DjangoModelPermissions.perms_map, "GET": [], "HEAD": [], "OPTIONS": []}


class RoleViewSet(viewsets.ReadOnlyModelViewSet):
    """The role catalogue of every scheme (configuration)."""

    lookup_value_regex = r"[0-9]+"

    serializer_class = RoleSerializer
    queryset = Role.objects.select_related("scheme").prefetch_related("levels").order_by("scheme__key", "order", "key")
    filterset_fields = {"scheme__key": ["exact"], "category": ["exact"]}
    pagination_class = None


class PersonViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    viewsets.GenericViewSet):
    """People in charge within the caller's territory."""

    lookup_value_regex = r"[0-9]+"

    serializer_class = PersonSerializer
    permission_classes = [ModelPermissionsOrRead]
    queryset = Person.objects.all()

    def get_queryset(self):
        return person_scope(Person.objects.all(), self.request.user).order_by("name", "id")

    def perform_create(self, serializer):
        v = serializer.validated_data
        serializer.instance = services.person_create(name=v["name"], phone=v.get("phone", ""),
                                                     organisation=v.get("organisation", ""), actor=self.request.user)


class AssignmentFilter(filters.FilterSet):
    node = IdFilter(field_name="node_id")
    person = IdFilter(field_name="person_id")
    role = filters.CharFilter(field_name="role__key")
    current = filters.BooleanFilter(method="filter_current")

    class Meta:
        model = Assignment
        fields = ["node", "person", "role", "current"]

    def filter_current(self, qs, _name, value):
        current = Assignment.objects.current().values("pk")
        return qs.filter(pk__in=current) if value else qs.exclude(pk__in=current)


class AssignmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        viewsets.GenericViewSet):
    """Who holds which role in which cell, in the caller's territory. Created through the service that
    refuses overlaps, wrong levels and retired cells."""

    lookup_value_regex = r"[0-9]+"

    serializer_class = AssignmentSerializer
    permission_classes = [ModelPermissionsOrRead]
    filterset_class = AssignmentFilter
    queryset = Assignment.objects.all()

    def get_queryset(self):
        qs = Assignment.objects.select_related("person", "node", "role")
        return assignment_scope(qs, self.request.user).order_by("node__path", "role__order", "id")

    def create(self, request, *args, **kwargs):
        data = AssignmentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        node = get_object_or_404(node_scope(Node.objects.select_related("level"), request.user), pk=v["node"].pk)
        person = v["person"]
        # a person is assignable when already in charge somewhere in scope, or not in charge anywhere yet
        in_scope = person_scope(Person.objects.filter(pk=person.pk), request.user).exists()
        if not in_scope and person.assignments.exists():
            raise ValidationError({"person": _("unknown person")})
        assignment = services.assignment_create(person=person, node=node, role=v["role"],
                                                start_date=v.get("start_date"), end_date=v.get("end_date"),
                                                duties=v.get("duties", ""), is_public=v.get("is_public", True),
                                                actor=request.user)
        return Response(AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EndAssignmentSerializer, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        if not request.user.has_perm("accounts.change_assignment"):
            return Response({"detail": _("you do not have permission to end assignments")},
                            status=status.HTTP_403_FORBIDDEN)
        assignment = self.get_object()
        data = EndAssignmentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ended = services.assignment_end(assignment, end_date=data.validated_data.get("end_date"),
                                        reason=data.validated_data["reason"], actor=request.user)
        return Response(AssignmentSerializer(ended).data)
