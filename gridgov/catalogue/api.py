"""REST API of the matter catalogue and of item admission: /api/catalogue/...

Catalogues, categories, matters and duty lists are configuration, readable by every logged-in user.
A catalogue is exported and imported as XLSX (`xlsx`); importing needs `catalogue.change_catalogue`.
Admission requests are listed through `admission_request_scope` (one outside it is a 404) and written
through the services of `admission`, which refuse with 400 {field: [reason]} or 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from gridgov.accounts.models import Department
from gridgov.catalogue import admission, xlsx
from gridgov.catalogue.models import (
    AdmissionRequest,
    AdmissionState,
    Catalogue,
    Category,
    DutyList,
    DutyListEntry,
    DutyTier,
    Matter,
    MatterStage,
    ReportLevel,
)
from gridgov.core.filters import IdFilter

ID_REGEX = r"[0-9]{1,18}"  # 18 digits stay below 2**63: a longer id is a 404 from the router


# --------------------------------------------------------------------------- serializers
class CatalogueSerializer(serializers.ModelSerializer):
    matters = serializers.IntegerField(source="matter_count", read_only=True)

    class Meta:
        model = Catalogue
        fields = ["id", "key", "name_zh", "name_en", "version", "updated_at", "matters"]


class CategorySerializer(serializers.ModelSerializer):
    catalogue = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = Category
        fields = ["id", "catalogue", "code", "name_zh", "name_en", "kind"]


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = MatterStage
        fields = ["order", "name_zh", "name_en", "amount", "unit", "closing_condition"]


class MatterSerializer(serializers.ModelSerializer):
    catalogue = serializers.SlugRelatedField(slug_field="key", read_only=True)
    category = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category_name_zh = serializers.CharField(source="category.name_zh", read_only=True)

    class Meta:
        model = Matter
        fields = ["id", "catalogue", "category", "category_name_zh", "code", "name_zh", "name_en", "report_level",
                  "duty_tier", "department", "handling_mode", "evidence_before", "evidence_after", "active"]


class AttributeValueSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()


class AttributeSerializer(serializers.Serializer):
    """An Open311 service-definition attribute."""

    code = serializers.CharField()
    datatype = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    required = serializers.BooleanField()
    values = AttributeValueSerializer(many=True)


class MatterDetailSerializer(MatterSerializer):
    stages = StageSerializer(many=True, read_only=True)
    attributes = AttributeSerializer(many=True, read_only=True)

    class Meta(MatterSerializer.Meta):
        fields = [*MatterSerializer.Meta.fields, "registration_condition", "closing_condition", "attributes",
                  "stages"]


class DutyListSerializer(serializers.ModelSerializer):
    scheme = serializers.SlugRelatedField(slug_field="key", read_only=True)
    current_entries = serializers.IntegerField(source="entry_count", read_only=True)

    class Meta:
        model = DutyList
        fields = ["id", "scheme", "key", "name_zh", "name_en", "duty_tier", "admits_to_grid", "order", "version",
                  "current_entries"]


class EntrySerializer(serializers.ModelSerializer):
    matter_code = serializers.CharField(source="matter.code", read_only=True)
    matter_name_zh = serializers.CharField(source="matter.name_zh", read_only=True)
    matter_name_en = serializers.CharField(source="matter.name_en", read_only=True)

    class Meta:
        model = DutyListEntry
        fields = ["matter", "matter_code", "matter_name_zh", "matter_name_en", "added_version", "removed_version",
                  "request"]


class DutyListDetailSerializer(DutyListSerializer):
    as_of_version = serializers.SerializerMethodField()
    entries = serializers.SerializerMethodField()

    class Meta(DutyListSerializer.Meta):
        fields = [*DutyListSerializer.Meta.fields, "as_of_version", "entries"]

    def get_as_of_version(self, obj) -> int:
        return self.context.get("as_of", obj.version)

    @extend_schema_field(EntrySerializer(many=True))
    def get_entries(self, obj) -> list[dict]:
        return EntrySerializer(self.context["entries"], many=True).data


def _choice_schema(choices) -> dict:
    """An enum kept inline (wrapped in allOf): `state` and `change` are names other apps use for other
    choice sets, and drf-spectacular would otherwise merge and rename them all."""
    return {"allOf": [{"type": "string", "enum": list(choices.values)}],
            "description": ", ".join(f"{value}: {label}" for value, label in choices.choices)}


@extend_schema_field(_choice_schema(AdmissionState))
class AdmissionStateField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=AdmissionState.choices, **kwargs)


@extend_schema_field(_choice_schema(AdmissionRequest.Change))
class AdmissionChangeField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=AdmissionRequest.Change.choices, **kwargs)


class AdmissionRequestSerializer(serializers.ModelSerializer):
    change = AdmissionChangeField(read_only=True)
    state = AdmissionStateField(read_only=True)
    duty_list_key = serializers.CharField(source="duty_list.key", read_only=True)
    scheme = serializers.CharField(source="duty_list.scheme.key", read_only=True)
    matter_code = serializers.CharField(source="matter.code", read_only=True)
    matter_name_zh = serializers.CharField(source="matter.name_zh", read_only=True)
    department_key = serializers.CharField(source="department.key", read_only=True, default=None, allow_null=True)
    applied_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AdmissionRequest
        fields = ["id", "scheme", "duty_list", "duty_list_key", "matter", "matter_code", "matter_name_zh", "change",
                  "department", "department_key", "reason", "state", "applied_by", "applied_at", "decided_by",
                  "decided_at", "decision_reason", "list_version"]
        read_only_fields = fields


class AdmissionApplySerializer(serializers.Serializer):
    duty_list = serializers.PrimaryKeyRelatedField(queryset=DutyList.objects.all())
    matter = serializers.PrimaryKeyRelatedField(queryset=Matter.objects.all())
    change = AdmissionChangeField(default=AdmissionRequest.Change.ADD)
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all(), required=False,
                                                    allow_null=True, default=None)
    reason = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text="why the matter should be added to (or taken off) the list")


class AdmissionDecideSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text="required when rejecting")


class CatalogueImportSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=40, help_text="the catalogue to create or update")
    file = serializers.FileField(help_text="an XLSX workbook in the exported layout")
    dry_run = serializers.BooleanField(default=False)
    name_zh = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    name_en = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)


ImportReportSerializer = inline_serializer("CatalogueImportReport", {
    "key": serializers.CharField(), "dry_run": serializers.BooleanField(),
    "categories": serializers.IntegerField(), "created": serializers.IntegerField(),
    "updated": serializers.IntegerField(), "unchanged": serializers.IntegerField(),
    "codes_changed": serializers.ListField(child=serializers.CharField()),
})


# --------------------------------------------------------------------------- catalogues, categories, matters
class CatalogueViewSet(viewsets.ReadOnlyModelViewSet):
    """The matter catalogues (configuration: visible to every logged-in user)."""

    serializer_class = CatalogueSerializer
    queryset = Catalogue.objects.annotate(matter_count=Count("matters")).order_by("key")
    lookup_field = "key"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,40}"
    pagination_class = None

    @extend_schema(request={"multipart/form-data": CatalogueImportSerializer}, responses=ImportReportSerializer)
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_xlsx(self, request):
        """Create or update a catalogue from an XLSX workbook, all or nothing; `dry_run` only checks."""
        if not (request.user.is_staff and request.user.has_perm("catalogue.change_catalogue")):
            raise PermissionDenied(_("you may not change matter catalogues"))
        data = CatalogueImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        report = xlsx.catalogue_import_xlsx(key=v["key"], file=v["file"], actor=request.user, dry_run=v["dry_run"],
                                            name_zh=v["name_zh"], name_en=v["name_en"])
        return Response({"key": v["key"], "dry_run": v["dry_run"], "categories": report.categories,
                         "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                         "codes_changed": report.codes_changed})


class CatalogueExportView(APIView):
    """The catalogue as an XLSX workbook (categories, matters with every field, stages)."""

    @extend_schema(operation_id="catalogue_catalogues_export_xlsx",
                   parameters=[OpenApiParameter("key", str, OpenApiParameter.PATH)],
                   responses={(200, xlsx.CONTENT_TYPE): OpenApiTypes.BINARY})
    def get(self, request, key: str):
        catalogue = get_object_or_404(Catalogue, key=key)
        body = xlsx.catalogue_export_xlsx(catalogue=catalogue)
        response = HttpResponse(body, content_type=xlsx.CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="catalogue-{catalogue.key}-v{catalogue.version}.xlsx"'
        return response


class CategoryFilter(filters.FilterSet):
    catalogue = filters.CharFilter(field_name="catalogue__key")

    class Meta:
        model = Category
        fields = ["catalogue", "kind"]


class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CategorySerializer
    queryset = Category.objects.select_related("catalogue").order_by("catalogue__key", "code")
    filterset_class = CategoryFilter
    lookup_value_regex = ID_REGEX
    pagination_class = None


class MatterFilter(filters.FilterSet):
    catalogue = filters.CharFilter(field_name="catalogue__key")
    category = filters.CharFilter(field_name="category__code", help_text="category code (two digits)")
    report_level = filters.ChoiceFilter(choices=ReportLevel.choices)
    duty_tier = filters.ChoiceFilter(choices=DutyTier.choices)
    active = filters.BooleanFilter()
    search = filters.CharFilter(method="filter_search", help_text="code prefix, or part of the Chinese or "
                                                                   "English name")

    class Meta:
        model = Matter
        fields = ["catalogue", "category", "report_level", "duty_tier", "active", "search"]

    def filter_search(self, qs, _name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(Q(code__startswith=value) | Q(name_zh__icontains=value) | Q(name_en__icontains=value))


class MatterViewSet(viewsets.ReadOnlyModelViewSet):
    """Matters with their report level, duty tier and department; the detail adds the conditions, the
    Open311 attributes and the staged time limits."""

    queryset = Matter.objects.select_related("catalogue", "category").order_by("catalogue__key", "code")
    filterset_class = MatterFilter
    lookup_value_regex = ID_REGEX

    def get_queryset(self):
        qs = super().get_queryset()
        return qs.prefetch_related("stages") if self.action == "retrieve" else qs

    def get_serializer_class(self):
        return MatterDetailSerializer if self.action == "retrieve" else MatterSerializer


# --------------------------------------------------------------------------- duty lists
class DutyListFilter(filters.FilterSet):
    scheme = filters.CharFilter(field_name="scheme__key")

    class Meta:
        model = DutyList
        fields = ["scheme", "duty_tier", "admits_to_grid"]


class DutyListViewSet(viewsets.ReadOnlyModelViewSet):
    """Duty lists (published configuration); the detail lists the matters on it now, or as of a version."""

    queryset = (DutyList.objects.select_related("scheme")
                .annotate(entry_count=Count("entries", filter=Q(entries__removed_version__isnull=True)))
                .order_by("scheme__key", "order", "key"))
    filterset_class = DutyListFilter
    lookup_value_regex = ID_REGEX
    pagination_class = None

    def get_serializer_class(self):
        return DutyListDetailSerializer if self.action == "retrieve" else DutyListSerializer

    @extend_schema(parameters=[OpenApiParameter("version", int, description="the list as it stood at this "
                                                                            "version (default: now)")])
    def retrieve(self, request, *args, **kwargs):
        duty_list = self.get_object()
        version = request.query_params.get("version")
        if version in (None, ""):
            entries, as_of = admission.duty_list_entries_current(duty_list=duty_list), duty_list.version
        else:
            entries = admission.duty_list_entries_as_of(duty_list=duty_list, version=version)
            as_of = int(version)
        serializer = DutyListDetailSerializer(duty_list, context={"entries": entries, "as_of": as_of,
                                                                  "request": request})
        return Response(serializer.data)


# --------------------------------------------------------------------------- admission requests
class AdmissionRequestFilter(filters.FilterSet):
    scheme = filters.CharFilter(field_name="duty_list__scheme__key")
    duty_list = IdFilter(field_name="duty_list_id")
    state = filters.ChoiceFilter(choices=AdmissionState.choices)
    matter = filters.CharFilter(field_name="matter__code", help_text="matter code")

    class Meta:
        model = AdmissionRequest
        fields = ["scheme", "duty_list", "state", "matter"]


class AdmissionRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                              viewsets.GenericViewSet):
    """Applications to put matters on duty lists (or take them off), and their decisions. Creating one
    applies; `decide` approves or rejects (the grid office); `withdraw` takes it back (the applicant)."""

    serializer_class = AdmissionRequestSerializer
    filterset_class = AdmissionRequestFilter
    lookup_value_regex = ID_REGEX
    queryset = AdmissionRequest.objects.all()

    def get_queryset(self):
        qs = AdmissionRequest.objects.select_related("duty_list__scheme", "matter", "department", "applied_by",
                                                     "decided_by")
        return admission.admission_request_scope(qs, self.request.user).order_by("-applied_at", "-id")

    @extend_schema(request=AdmissionApplySerializer, responses={201: AdmissionRequestSerializer})
    def create(self, request, *args, **kwargs):
        data = AdmissionApplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        created = admission.admission_apply(actor=request.user, duty_list=v["duty_list"], matter=v["matter"],
                                            change=v["change"], department=v["department"], reason=v["reason"])
        return Response(AdmissionRequestSerializer(self._fresh(created)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AdmissionDecideSerializer, responses=AdmissionRequestSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        pending = self.get_object()
        data = AdmissionDecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = admission.admission_decide(actor=request.user, request=pending,
                                             approve=data.validated_data["approve"],
                                             reason=data.validated_data["reason"])
        return Response(AdmissionRequestSerializer(self._fresh(decided)).data)

    @extend_schema(request=None, responses=AdmissionRequestSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        withdrawn = admission.admission_withdraw(actor=request.user, request=self.get_object())
        return Response(AdmissionRequestSerializer(self._fresh(withdrawn)).data)

    def _fresh(self, obj: AdmissionRequest) -> AdmissionRequest:
        return AdmissionRequest.objects.select_related("duty_list__scheme", "matter", "department", "applied_by",
                                                       "decided_by").get(pk=obj.pk)
