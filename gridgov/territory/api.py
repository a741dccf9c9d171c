"""REST API of the territory: schemes, nodes (scoped), the tree as of a date, locate, reorganisation,
grid map import / export. Views validate input, call one service or selector, and render."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from gridgov.accounts.selectors import user_is_district_wide
from gridgov.core.filters import IdFilter
from gridgov.core.parsers import JSONParser
from gridgov.territory import locate as locating
from gridgov.territory import services
from gridgov.territory.models import Level, LevelScheme, Node, NodeVersion, Term
from gridgov.territory.selectors import node_list_for_user, node_scope, node_tree_as_of

MAX_BULK_POINTS = 10_000
SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")


# --------------------------------------------------------------------------- serializers
class LevelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Level
        fields = ["id", "key", "name_zh", "name_en", "depth", "is_grid", "admin_rank", "code_digits"]


class TermSerializer(serializers.ModelSerializer):
    class Meta:
        model = Term
        fields = ["id", "vocabulary", "key", "name_zh", "name_en", "order"]


class SchemeSerializer(serializers.ModelSerializer):
    levels = LevelSerializer(many=True, read_only=True)
    terms = TermSerializer(many=True, read_only=True)

    class Meta:
        model = LevelScheme
        fields = ["id", "key", "name_zh", "name_en", "description", "levels", "terms"]


class NodeSerializer(serializers.ModelSerializer):
    scheme = serializers.SlugRelatedField(slug_field="key", read_only=True)
    level = serializers.SlugRelatedField(slug_field="key", read_only=True)
    parent_code = serializers.CharField(source="parent.code", read_only=True, default=None, allow_null=True)
    node_type = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    management_class = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = Node
        fields = ["id", "scheme", "level", "code", "name", "parent", "parent_code", "node_type", "management_class",
                  "area_m2", "centroid_lon", "centroid_lat", "attributes", "valid_from", "valid_to", "active"]


class NodeDetailSerializer(NodeSerializer):
    class Meta(NodeSerializer.Meta):
        fields = [*NodeSerializer.Meta.fields, "geometry", "path"]


class NodeWriteSerializer(serializers.Serializer):
    """Input of node create / update; the service does the real validation."""

    scheme = serializers.SlugField(required=False, help_text="scheme key (create only)")
    level = serializers.CharField(required=False, help_text="level key or name (create only)")
    parent = serializers.IntegerField(required=False, allow_null=True, help_text="parent node id (create only)")
    code = serializers.CharField(required=False, allow_blank=True, max_length=32)
    auto_code = serializers.BooleanField(required=False, default=False)
    name = serializers.CharField(required=False, max_length=200)
    geometry = serializers.JSONField(required=False, allow_null=True)
    node_type = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    management_class = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    attributes = serializers.JSONField(required=False)
    valid_from = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class MoveSerializer(serializers.Serializer):
    new_parent = serializers.IntegerField()
    effective_date = serializers.DateField(required=False)
    new_code = serializers.CharField(required=False, allow_blank=True)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class PartSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    geometry = serializers.JSONField(required=False, allow_null=True)
    code = serializers.CharField(required=False, allow_blank=True)
    node_type = serializers.CharField(required=False, allow_blank=True)
    management_class = serializers.CharField(required=False, allow_blank=True)


class SplitSerializer(serializers.Serializer):
    parts = PartSerializer(many=True)
    effective_date = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class MergeSerializer(serializers.Serializer):
    nodes = serializers.ListField(child=serializers.IntegerField(), min_length=2)
    name = serializers.CharField(max_length=200)
    code = serializers.CharField(required=False, allow_blank=True, default="")
    effective_date = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RetireSerializer(serializers.Serializer):
    effective_date = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class VersionSerializer(serializers.ModelSerializer):
    level = serializers.SlugRelatedField(slug_field="key", read_only=True)
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = NodeVersion
        fields = ["id", "code", "name", "level", "parent", "valid_from", "valid_to", "change", "reason", "actor",
                  "recorded_at"]


# --------------------------------------------------------------------------- permissions
class TerritoryWritePermission(permissions.BasePermission):
    """Reads for any logged-in user (scoped); writes need the model permission, and reorganising
    (move / split / merge / retire) needs `territory.reorganise_node`."""

    REORGANISE = {"move", "split", "merge", "retire", "assign_codes"}

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        if getattr(view, "action", None) in self.REORGANISE:
            return user.has_perm("territory.reorganise_node")
        if request.method == "POST":
            return user.has_perm("territory.add_node")
        return user.has_perm("territory.change_node")


def _scoped_node(user, pk) -> Node:
    """A node in the user's scope, else 404 (never a 403 that would confirm it exists)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < pk < 2**63:
        raise Http404
    return get_object_or_404(node_scope(Node.objects.select_related("level", "scheme", "parent"), user), pk=pk)


def _parse_date(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError({field: _("%(v)r is not a date (YYYY-MM-DD)") % {"v": value}}) from exc


# --------------------------------------------------------------------------- views
class SchemeViewSet(viewsets.ReadOnlyModelViewSet):
    """Level schemes with their levels and vocabularies (configuration: visible to every user)."""

    serializer_class = SchemeSerializer
    queryset = LevelScheme.objects.prefetch_related("levels", "terms").order_by("key")
    lookup_field = "key"
    pagination_class = None


class NodeFilter(filters.FilterSet):
    scheme = filters.CharFilter(field_name="scheme__key")
    level = filters.CharFilter(field_name="level__key")
    code = filters.CharFilter(field_name="code")
    code_prefix = filters.CharFilter(field_name="code", lookup_expr="startswith")
    name = filters.CharFilter(field_name="name", lookup_expr="icontains")
    parent = IdFilter(field_name="parent_id")
    node_type = filters.CharFilter(field_name="node_type__key")
    management_class = filters.CharFilter(field_name="management_class__key")

    class Meta:
        model = Node
        fields = ["scheme", "level", "code", "code_prefix", "name", "parent", "node_type", "management_class"]


@extend_schema(parameters=[OpenApiParameter("include_retired", OpenApiTypes.BOOL, description="include retired nodes")])
class NodeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Territory nodes in the caller's scope. Writes go through the territory services."""

    lookup_value_regex = r"[0-9]+"

    permission_classes = [TerritoryWritePermission]
    filterset_class = NodeFilter

    def get_queryset(self):
        include_retired = self.request.query_params.get("include_retired") in {"1", "true", "yes"}
        if self.action not in {"list", "retrieve", "history"}:
            include_retired = False
        return node_list_for_user(self.request.user, include_retired=include_retired).order_by("path")

    def get_serializer_class(self):
        return NodeDetailSerializer if self.action == "retrieve" else NodeSerializer

    def _respond(self, node: Node, code=status.HTTP_200_OK) -> Response:
        return Response(NodeDetailSerializer(node, context={"request": self.request}).data, status=code)

    @extend_schema(request=NodeWriteSerializer, responses={201: NodeDetailSerializer})
    def create(self, request):
        data = NodeWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        parent = _scoped_node(request.user, v["parent"]) if v.get("parent") else None
        scheme = parent.scheme if parent else LevelScheme.objects.filter(key=v.get("scheme", "")).first()
        if parent is None and not user_is_district_wide(request.user, scheme):
            raise ValidationError({"parent": _("only district-wide staff can create top-level nodes")})
        if scheme is None:
            raise ValidationError({"scheme": _("unknown scheme %(s)r") % {"s": v.get("scheme")}})
        if not v.get("level"):
            raise ValidationError({"level": _("a level is required")})
        if not v.get("name"):
            raise ValidationError({"name": _("a name is required")})
        node = services.node_create(
            level=services.level_resolve(scheme=scheme, value=v["level"]), parent=parent, name=v["name"],
            code=v.get("code", ""), auto_code=v.get("auto_code", False), geometry=v.get("geometry"),
            node_type=v.get("node_type"), management_class=v.get("management_class"),
            attributes=v.get("attributes"), valid_from=v.get("valid_from"), actor=request.user, reason=v["reason"],
        )
        return self._respond(node, status.HTTP_201_CREATED)

    @extend_schema(request=NodeWriteSerializer, responses=NodeDetailSerializer)
    def partial_update(self, request, pk=None):
        node = _scoped_node(request.user, pk)
        data = NodeWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        reason = v.pop("reason", "")
        refused = sorted(set(v) & {"scheme", "level", "parent", "code", "auto_code", "valid_from"})
        if refused:
            raise ValidationError({refused[0]: _("change this with the move / split / merge actions, not an update")})
        changes = {k: v[k] for k in services.NODE_FIELDS if k in v}
        return self._respond(services.node_update(node, actor=request.user, reason=reason, **changes))

    @extend_schema(request=MoveSerializer, responses=NodeDetailSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        node = _scoped_node(request.user, pk)
        data = MoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        new_parent = _scoped_node(request.user, v["new_parent"])
        moved = services.node_move(node, new_parent=new_parent, effective_date=v.get("effective_date"),
                                   new_code=v.get("new_code") or None, actor=request.user, reason=v["reason"])
        return self._respond(moved)

    @extend_schema(request=SplitSerializer, responses=NodeDetailSerializer(many=True))
    @action(detail=True, methods=["post"], pagination_class=None)
    def split(self, request, pk=None):
        node = _scoped_node(request.user, pk)
        data = SplitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        parts = services.node_split(node, parts=[dict(p) for p in v["parts"]], effective_date=v.get("effective_date"),
                                    actor=request.user, reason=v["reason"])
        return Response(NodeDetailSerializer(parts, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MergeSerializer, responses={201: NodeDetailSerializer})
    @action(detail=False, methods=["post"])
    def merge(self, request):
        data = MergeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        nodes = [_scoped_node(request.user, pk) for pk in v["nodes"]]
        merged = services.node_merge(nodes, name=v["name"], code=v["code"], effective_date=v.get("effective_date"),
                                     actor=request.user, reason=v["reason"])
        return self._respond(merged, status.HTTP_201_CREATED)

    @extend_schema(request=RetireSerializer, responses=NodeDetailSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        node = _scoped_node(request.user, pk)
        data = RetireSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return self._respond(services.node_retire(node, effective_date=v.get("effective_date"), actor=request.user,
                                                  reason=v["reason"]))

    @extend_schema(request=None, responses=NodeSerializer(many=True))
    @action(detail=True, methods=["post"], url_path="assign-codes", pagination_class=None)
    def assign_codes(self, request, pk=None):
        node = _scoped_node(request.user, pk)
        coded = services.node_assign_codes(parent=node, recode_all=request.data.get("recode_all") in (True, "true"),
                                           actor=request.user)
        return Response(NodeSerializer(coded, many=True).data)

    @extend_schema(responses=NodeSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def children(self, request, pk=None):
        node = _scoped_node(request.user, pk)
        qs = node.children.current().select_related("level", "scheme", "node_type", "management_class", "parent")
        return Response(NodeSerializer(qs.order_by("code", "name"), many=True).data)

    @extend_schema(responses=VersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request, pk=None):
        node = _scoped_node(request.user, pk)
        versions = node.versions.select_related("level", "actor").order_by("valid_from", "id")
        return Response(VersionSerializer(versions, many=True).data)


class LocateSerializer(serializers.Serializer):
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    scheme = serializers.SlugField(required=False)


def _scheme_or_none(key: str | None) -> LevelScheme | None:
    if not key:
        return None
    if not SLUG.match(key):
        raise ValidationError({"scheme": _("a scheme key is letters, digits, '-' or '_'")})
    scheme = LevelScheme.objects.filter(key=key).first()
    if scheme is None:
        raise ValidationError({"scheme": _("unknown scheme %(s)r") % {"s": key}})
    return scheme


class LocateView(APIView):
    """GET /api/territory/locate?lon=..&lat=.. → the deepest cell containing the point, with its ancestors."""

    @extend_schema(
        parameters=[OpenApiParameter("lon", float, required=True), OpenApiParameter("lat", float, required=True),
                    OpenApiParameter("scheme", str, required=False)],
        responses={200: inline_serializer("LocateResult", {"node": NodeSerializer(),
                                                           "ancestors": NodeSerializer(many=True)}),
                   404: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        data = LocateSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        scheme = _scheme_or_none(v.get("scheme"))
        node = None
        paths_scope = node_scope(Node.objects.all(), request.user)
        node_id = locating.locate_id(v["lon"], v["lat"], scheme=scheme)
        if node_id is not None:
            node = paths_scope.select_related("level", "scheme", "parent", "node_type", "management_class") \
                .filter(pk=node_id).first()
        if node is None:
            return Response({"detail": _("no cell in your territory contains the point (%(lon)s, %(lat)s)")
                             % {"lon": v["lon"], "lat": v["lat"]}, "lon": v["lon"], "lat": v["lat"]},
                            status=status.HTTP_404_NOT_FOUND)
        ancestors = Node.objects.filter(pk__in=node.ancestor_ids()).select_related("level", "scheme", "parent") \
            .order_by("path")
        return Response({"node": NodeSerializer(node).data, "ancestors": NodeSerializer(ancestors, many=True).data})


class BulkLocateSerializer(serializers.Serializer):
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        max_length=MAX_BULK_POINTS, help_text="[[lon, lat], ...] at most 10,000",
    )
    scheme = serializers.SlugField(required=False)


class BulkLocateView(APIView):
    """POST {"points": [[lon, lat], ...]} → one result per point: {id, code, name} or null."""

    parser_classes = [JSONParser]

    @extend_schema(request=BulkLocateSerializer,
                   responses=inline_serializer("BulkLocateResult", {"results": serializers.ListField()}))
    def post(self, request):
        data = BulkLocateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        points = v["points"]
        try:
            ids = locating.locate_many([p[0] for p in points], [p[1] for p in points],
                                       scheme=_scheme_or_none(v.get("scheme")))
        except ValueError as exc:
            raise ValidationError({"points": str(exc)}) from exc
        found = {n["id"]: n for n in node_scope(Node.objects.filter(pk__in=set(ids.tolist()) - {-1}), request.user)
                 .values("id", "code", "name")}
        return Response({"results": [found.get(int(i)) for i in ids]})


class TreeView(APIView):
    """The territory tree (in scope) as of a date: nested {id, code, name, level, children}."""

    @extend_schema(parameters=[OpenApiParameter("scheme", str, required=True),
                               OpenApiParameter("as_of", OpenApiTypes.DATE), OpenApiParameter("root", int)],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request):
        scheme = _scheme_or_none(request.query_params.get("scheme"))
        if scheme is None:
            raise ValidationError({"scheme": _("a scheme key is required")})
        on = _parse_date(request.query_params.get("as_of"), "as_of") or dt.date.today()
        root = request.query_params.get("root")
        root_id = None
        if root:
            try:
                root_id = _scoped_node(request.user, int(root)).pk
            except ValueError as exc:
                raise ValidationError({"root": _("root must be a node id")}) from exc
        tree = node_tree_as_of(on=on, scheme=scheme, root_id=root_id)
        visible = set(node_scope(Node.objects.filter(scheme=scheme), request.user).values_list("id", flat=True))
        return Response({"as_of": on.isoformat(), "scheme": scheme.key, "tree": _prune(tree, visible)})


def _prune(items: list[dict], visible: set[int]) -> list[dict]:
    """Keep visible nodes; an invisible node's visible descendants are lifted up."""
    out = []
    for item in items:
        children = _prune(item["children"], visible)
        if item["id"] in visible:
            out.append({**item, "children": children})
        else:
            out.extend(children)
    return out


class GridMapImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="GeoJSON, or a zipped Shapefile")
    scheme = serializers.SlugField()
    level = serializers.CharField(required=False, allow_blank=True)
    mode = serializers.ChoiceField(choices=["per_row", "all_or_nothing"], default="per_row")
    dry_run = serializers.BooleanField(default=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class GridMapImportView(APIView):
    """Upload grid polygons; answers the validation report (which rows were imported, which not, why).

    A file of more than GRIDMAP_INLINE_FEATURES features is checked (`dry_run`) or imported by a background
    task: the answer is then 202 with the run's token and `status_url`, which answers its state, progress
    and, once done, the report."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": GridMapImportSerializer}, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        if not request.user.has_perm("territory.import_territory"):
            return Response({"detail": _("you do not have permission to import grid maps")},
                            status=status.HTTP_403_FORBIDDEN)
        from gridgov.core import uploads
        from gridgov.territory import gridmaps
        from gridgov.territory.gridmaps import runs

        data = GridMapImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        scheme = _scheme_or_none(v["scheme"])
        if scheme is None:
            raise ValidationError({"scheme": _("a scheme key is required")})
        level = services.level_resolve(scheme=scheme, value=v["level"]) if v.get("level") else None
        upload = v["file"]
        try:
            body = uploads.read_capped(upload, kind=gridmaps.UPLOAD_KIND, name=upload.name)
            rows = gridmaps.gridmap_read(path_or_file=io.BytesIO(body), filename=upload.name)
        except (ValueError, gridmaps.GridMapError) as exc:
            raise ValidationError({"file": str(exc)}) from exc
        if runs.gridmap_in_background(features=len(rows)):
            return self._in_background(request, scheme=scheme, level=level, v=v, name=upload.name, data=body,
                                       features=len(rows))
        with transaction.atomic():
            report = gridmaps.gridmap_import(scheme=scheme, rows=rows, level=level, mode=v["mode"],
                                             dry_run=v["dry_run"], actor=request.user, reason=v["reason"],
                                             source=upload.name)
            outside = runs.gridmap_outside_scope(request.user, scheme, report.to_dict()["rows"])
            if outside and report.committed:
                transaction.set_rollback(True)  # as on the page: nothing outside the user's territory is written
        body = runs.gridmap_report_body(report, outside)
        if outside and report.committed:
            body["committed"] = False
            for row in body["rows"]:
                row["written"] = False
            body["detail"] = _("Nothing was written: %(n)d rows are outside your territory.") % {"n": len(outside)}
            return Response(body, status=status.HTTP_403_FORBIDDEN)
        return Response(body, status=status.HTTP_200_OK)

    @staticmethod
    def _in_background(request, *, scheme, level, v, name: str, data: bytes, features: int) -> Response:
        from gridgov.core import import_log
        from gridgov.territory.tasks import gridmap_check_task, gridmap_run_task

        State = import_log.RecordState
        record = import_log.record_create(
            kind="gridmap", owner=request.user, source=name, upload=data, suffix=Path(name).suffix,
            state=State.CHECKING if v["dry_run"] else State.RUNNING,
            options={"scheme": scheme.key, "level": level.key if level else "", "mode": v["mode"],
                     "reason": v["reason"], "features": features})
        record.counts = {"done": 0, "total": features}
        import_log.record_save(record)
        (gridmap_check_task if v["dry_run"] else gridmap_run_task)(record.token, request.user.pk)
        return Response(_run_status(request, record), status=status.HTTP_202_ACCEPTED)


def _run_status(request, record) -> dict:
    from gridgov.core import import_log

    body = {"token": record.token, "state": record.state, "progress": record.progress, "message": record.message,
            "status_url": request.build_absolute_uri(reverse("territory-gridmap-run", args=[record.token]))}
    if not record.working:
        body["report"] = import_log.record_report(record)
    return body


class GridMapRunView(APIView):
    """A grid-map import run in the background: its state (checking, checked, running, done, refused,
    failed), progress in percent and, once finished, its report. Its owner's only (anyone else: 404)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, token: str):
        from gridgov.core import import_log

        try:
            record = import_log.record_get(kind="gridmap", token=token, user=request.user)
        except LookupError:
            raise Http404 from None
        return Response(_run_status(request, record))


class GridMapExportView(APIView):
    """GeoJSON FeatureCollection of the nodes in scope (re-importable)."""

    @extend_schema(parameters=[OpenApiParameter("scheme", str, required=True), OpenApiParameter("root", int),
                               OpenApiParameter("as_of", OpenApiTypes.DATE),
                               OpenApiParameter("level", str, many=True, description="level keys to include")],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request):
        from gridgov.territory import gridmaps

        scheme = _scheme_or_none(request.query_params.get("scheme"))
        if scheme is None:
            raise ValidationError({"scheme": _("a scheme key is required")})
        root = request.query_params.get("root")
        root_node = None
        if root:
            try:
                root_node = _scoped_node(request.user, int(root))
            except ValueError as exc:
                raise ValidationError({"root": _("root must be a node id")}) from exc
        elif not user_is_district_wide(request.user, scheme):
            raise ValidationError({"root": _("choose a root node in your territory")})
        on = _parse_date(request.query_params.get("as_of"), "as_of")
        levels = [services.level_resolve(scheme=scheme, value=key) for key in request.query_params.getlist("level")]
        collection = gridmaps.gridmap_export(scheme=scheme, root=root_node, as_of=on, levels=levels or None)
        return Response(collection)
