"""REST API of the closed loop: /api/cases/...

- `GET /` lists the cases in the caller's scope (`selectors.case_scope`), filtered (`filters.CaseFilter`);
  `POST /` reports one (intake, JSON or multipart with photos; `Idempotency-Key` makes a retry return the
  first case with 200 instead of 201);
- `GET {id}/` the case with what the caller may do now (`actions`); `POST {id}/actions/` takes one action
  of the workflow table through `services.case_transition` (409 when the case is in another state or
  changed since `expected_version` / `If-Match`, 403 without a grant);
- `{id}/timeline/`, `{id}/duplicates/`, `{id}/attachments/{att_id}/` (the private file), and
  `{id}/reveal-reporter/` (the clear contact, logged, only for users allowed to see who reported);
- `inbox/`, `notifications/`, `workflow/` and the routing rules.

A case outside the caller's scope is a 404. Who reported a case never reaches a user that
`grants.sees_reporter` does not allow, nor its tracking code a handler of it (`grants.sees_tracking_code`);
an action the separation of duties refuses (a handler verifying, closing or rating their own round) is a 403
naming the rule; personal data never travels in a URL.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import F, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from gridgov.accounts.selectors import user_is_district_wide, user_territory_schemes
from gridgov.cases.answers import case_answer
from gridgov.cases.attachments import attachment_response
from gridgov.cases.filters import CaseFilter, NotificationFilter
from gridgov.cases.grants import sees_reporter, sees_tracking_code
from gridgov.cases.models import Attachment, Case, Escalation, Notification, ReportIn, RoutingRule
from gridgov.cases.selectors import (
    case_duplicates,
    case_inbox,
    case_list_for_user,
    case_scope,
    case_scope_ids,
    case_timeline,
    routing_rule_scope,
)
from gridgov.cases.serializers import (
    CaseActionSerializer,
    CaseActionUploadSerializer,
    CaseDetailSerializer,
    CaseIntakeSerializer,
    CaseListSerializer,
    CaseReportSerializer,
    CaseReportUploadSerializer,
    ConflictSerializer,
    DuplicateSerializer,
    EventSerializer,
    NotificationSerializer,
    RevealedReporterSerializer,
    RevealReporterSerializer,
    RoutingRuleSerializer,
    RoutingRuleWriteSerializer,
    WorkflowSerializer,
    duplicates_data,
)
from gridgov.cases.services import (
    case_evaluate,
    case_report,
    case_reporter_reveal,
    case_transition,
    routing_rule_delete,
    routing_rule_save,
)
from gridgov.cases.transitions import mermaid, table_document
from gridgov.core.api import client_address
from gridgov.core.parsers import JSONParser

TAG = "cases"
ID_REGEX = r"[0-9]{1,18}"  # 18 digits stay below 2**63: a longer id is a 404 from the router
UPLOAD = "multipart/form-data"
JSON = "application/json"
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="a key of yours (at most 100 characters): sending the same report again with it returns the first "
                "case (200) instead of creating another")
IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description='the case version you read (its ETag, e.g. "3"), as an alternative to expected_version')
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


def _expected_version(request, body_value: int | None) -> int | None:
    """The version the client read: from the body, else from `If-Match` ("3", W/"3")."""
    raw = (request.headers.get("If-Match") or "").strip()
    if not raw:
        return body_value
    value = raw.removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 9:
        raise ValidationError({"If-Match": _('give the case version you read, e.g. "3"')})
    if body_value is not None and body_value != int(value):
        raise ValidationError({"expected_version": _("differs from the If-Match header")})
    return int(value)


def _detail_queryset():
    return (Case.objects.select_related("node", "matter__category", "assignee_user__person", "assignee_node",
                                        "assignee_team__department", "owner__person", "reporter", "routing_rule",
                                        "merged_into")
            .prefetch_related("stages", "attachments", "requests__requested_by",
                              Prefetch("escalations", queryset=Escalation.objects.select_related("node", "raised_by")
                                       .prefetch_related(Prefetch("report_ins", queryset=ReportIn.objects
                                                                  .select_related("department", "reported_by"))))))


def _as_written(case: Case, written) -> None:
    """A case intake has just written, made to answer like `_detail_queryset` without reading it again: its
    related rows are the ones intake wrote (`intake.Written`); the cell, matter (with category), owner and
    reporter objects are those intake used; nothing is assigned, routed or merged yet."""
    case._prefetched_objects_cache = {"stages": [], "attachments": list(written.attachments), "requests": [],
                                      "escalations": [], "events": list(written.events)}


def _list_related(qs):
    return qs.select_related("node", "matter__category", "assignee_user__person", "assignee_node",
                             "assignee_team__department")


@extend_schema_view(
    list=extend_schema(tags=[TAG], summary="Cases in your scope"),
    retrieve=extend_schema(tags=[TAG], summary="A case, with the actions you may take now"),
)
class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Cases of the closed loop in the caller's scope."""

    lookup_value_regex = ID_REGEX
    queryset = Case.objects.none()
    serializer_class = CaseListSerializer
    filterset_class = CaseFilter
    parser_classes = [JSONParser, MultiPartParser]

    def get_queryset(self):
        return _list_related(case_list_for_user(self.request.user))

    def get_serializer_class(self):
        return CaseDetailSerializer if self.action == "retrieve" else CaseListSerializer

    def _case(self) -> Case:
        """The case of the URL, in the caller's scope (else 404), with its details loaded."""
        try:
            pk = int(self.kwargs["pk"])
        except (KeyError, TypeError, ValueError):
            raise Http404 from None
        return get_object_or_404(case_scope(_detail_queryset(), self.request.user), pk=pk)

    def _detail(self, case: Case, *, code=status.HTTP_200_OK, reload=True, duplicates: list[dict] | None = None
                ) -> Response:
        """The case as `CaseDetailSerializer` answers it (with `duplicates`: `CaseIntakeSerializer`), built by
        `answers.case_answer`."""
        fresh = _detail_queryset().get(pk=case.pk) if reload else case
        user = self.request.user
        data = case_answer(fresh, user=user, sees_reporter=sees_reporter(user, fresh),
                           sees_tracking_code=sees_tracking_code(user, fresh), duplicates=duplicates)
        return Response(data, status=code, headers={"ETag": f'"{fresh.version}"'})

    def _visible_duplicates(self, rows) -> list[dict]:
        if not rows:
            return []
        visible = case_scope_ids([c for c, _d in rows], self.request.user)
        return duplicates_data([(c, d) for c, d in rows if c.pk in visible])

    def retrieve(self, request, *args, **kwargs):
        return self._detail(self._case(), reload=False)

    @extend_schema(tags=[TAG], summary="Report a case (intake)",
                   request={JSON: CaseReportSerializer, UPLOAD: CaseReportUploadSerializer},
                   responses={201: CaseIntakeSerializer, 200: CaseIntakeSerializer}, parameters=[IDEMPOTENCY_KEY])
    def create(self, request, *args, **kwargs):
        """Report a problem on a person's channel (patrol, hotline, police, department, resident). Photos go
        as repeated multipart file fields. 201 with the new case, or 200 with the first one when the
        `Idempotency-Key` was seen before for the same report."""
        body = CaseReportUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = case_report(actor=request.user, idempotency_key=request.headers.get("Idempotency-Key", ""),
                             client=f"user:{request.user.pk}", **body.validated_data)
        if result.written is not None:
            _as_written(result.case, result.written)
        response = self._detail(result.case, code=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
                                reload=result.written is None,
                                duplicates=self._visible_duplicates(result.duplicates))
        response["Location"] = f"{request.path.rstrip('/')}/{result.case.pk}/"
        return response

    def _scoped_case_id(self, value: str, field: str) -> int:
        """A case named by number or id that the caller may see (else a 400 like an unknown one)."""
        pk = Case.pk_from_number(value) if "-" in value else int(value)
        if pk is None or not case_scope(Case.objects.filter(pk=pk), self.request.user).exists():
            raise ValidationError({field: _("unknown case, or outside your territory")})
        return pk

    @extend_schema(tags=[TAG], summary="Take an action on the case",
                   request={JSON: CaseActionSerializer, UPLOAD: CaseActionUploadSerializer},
                   responses={200: CaseDetailSerializer, 409: ConflictSerializer}, parameters=[IF_MATCH])
    @action(detail=True, methods=["post"], url_path="actions", url_name="actions", filter_backends=[])
    def take_action(self, request, pk=None):
        """One action of the workflow table (see `workflow/` for each action's fields). 409 when the case
        is in a state that does not allow it or changed since the version you read; 403 when your role
        holds no grant for it."""
        case = self._case()
        body = CaseActionUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = dict(body.validated_data)
        name = v.pop("action")
        version = _expected_version(request, v.pop("expected_version", None))
        if "into" in v:
            v["into"] = self._scoped_case_id(v["into"], "into")
        if "assignee" in v:
            v["assignee"] = {k: x for k, x in v["assignee"].items() if x not in (None, "")}
        if name == "evaluate":
            reason = "\n".join(x for x in (v.pop("reason"), v.pop("note")) if x)
            case = case_evaluate(case=case, actor=request.user, satisfaction=v.pop("satisfaction", None),
                                 reason=reason, expected_version=version, **v)
        else:
            case = case_transition(case=case, actor=request.user, action=name, expected_version=version, **v)
        return self._detail(case)

    @extend_schema(tags=[TAG], summary="The case's events, oldest first", responses=EventSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def timeline(self, request, pk=None):
        case = self._case()
        rows = case_timeline(case)
        return Response(EventSerializer(rows, many=True, context={
            "case": case, "sees_reporter": sees_reporter(request.user, case)}).data)

    @extend_schema(tags=[TAG], summary="Open cases of the same matter nearby",
                   responses=DuplicateSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def duplicates(self, request, pk=None):
        return Response(self._visible_duplicates(case_duplicates(self._case())))

    @extend_schema(tags=[TAG], summary="A photo of the case",
                   parameters=[OpenApiParameter("att_id", OpenApiTypes.INT, OpenApiParameter.PATH),
                               OpenApiParameter("size", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=["thumb"],
                                                description="thumb: the small copy shown in lists")],
                   responses={(200, media): OpenApiTypes.BINARY for media in IMAGE_TYPES})
    @action(detail=True, methods=["get"], url_path=rf"attachments/(?P<att_id>{ID_REGEX})", url_name="attachment",
            filter_backends=[], pagination_class=None)
    def attachment(self, request, pk=None, att_id=None):
        case = self._case()
        return attachment_response(get_object_or_404(Attachment, pk=int(att_id), case=case),
                                   size=request.query_params.get("size", ""))

    @extend_schema(tags=[TAG], summary="Who reported the case, in clear (logged)",
                   request=RevealReporterSerializer, responses=RevealedReporterSerializer)
    @action(detail=True, methods=["post"], url_path="reveal-reporter", url_name="reveal-reporter",
            filter_backends=[])
    def reveal_reporter(self, request, pk=None):
        """The reporter's name and phone in clear, for users allowed to see who reported the case (403
        otherwise). States a purpose; each reveal is written to the personal-data access log."""
        case = self._case()
        body = RevealReporterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(case_reporter_reveal(user=request.user, case=case, purpose=body.validated_data["purpose"],
                                             remote_addr=client_address(request)))

    @extend_schema(tags=[TAG], summary="Open cases waiting on you", responses=CaseListSerializer(many=True))
    @action(detail=False, methods=["get"])
    def inbox(self, request):
        qs = self.filter_queryset(_list_related(case_inbox(request.user)))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(CaseListSerializer(page, many=True,
                                                              context=self.get_serializer_context()).data)

    @extend_schema(tags=[TAG], summary="The workflow table", responses=WorkflowSerializer)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def workflow(self, request):
        """Every state and action of the case workflow: from which states, to which, who may act by
        default, what the clock does, what each action requires; and the same as a Mermaid diagram."""
        return Response({**table_document(), "mermaid": mermaid()})


# ------------------------------------------------------------------------------------------- notifications
@extend_schema_view(list=extend_schema(tags=[TAG], summary="Your notifications, unread first"))
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = ID_REGEX
    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()
    filterset_class = NotificationFilter

    def get_queryset(self):
        return (Notification.objects.filter(recipient=self.request.user).select_related("case")
                .order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id"))

    @extend_schema(tags=[TAG], summary="Mark a notification read", request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def read(self, request, pk=None):
        row = get_object_or_404(self.get_queryset(), pk=int(pk))
        if row.read_at is None:
            row.read_at = timezone.now()
            row.save(update_fields=["read_at"])
        return Response(NotificationSerializer(row).data)


# ------------------------------------------------------------------------------------------- routing rules
class RoutingRulePermission(permissions.BasePermission):
    """Reads for any logged-in user (their schemes); writes need `cases.change_routingrule` or a
    district-wide login."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(user_is_district_wide(user) or user.has_perm("cases.change_routingrule"))


@extend_schema_view(
    list=extend_schema(tags=[TAG], summary="Routing rules"),
    retrieve=extend_schema(tags=[TAG]),
    create=extend_schema(tags=[TAG], request=RoutingRuleWriteSerializer, responses={201: RoutingRuleSerializer}),
    partial_update=extend_schema(tags=[TAG], request=RoutingRuleWriteSerializer, responses=RoutingRuleSerializer),
    destroy=extend_schema(tags=[TAG]),
)
class RoutingRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                         mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Ordered rules choosing who a registered case goes to: the first active rule that matches wins."""

    lookup_value_regex = ID_REGEX
    serializer_class = RoutingRuleSerializer
    queryset = RoutingRule.objects.none()
    permission_classes = [RoutingRulePermission]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = {"scheme__key": ["exact"], "target": ["exact"], "active": ["exact"]}

    def get_queryset(self):
        return (routing_rule_scope(RoutingRule.objects.all(), self.request.user)
                .select_related("scheme", "matter", "category", "department", "community_level")
                .order_by("scheme__key", "order", "id"))

    def create(self, request, *args, **kwargs):
        body = RoutingRuleWriteSerializer(data=request.data, schemes=user_territory_schemes(request.user))
        body.is_valid(raise_exception=True)
        rule = routing_rule_save(None, body.validated_data, actor=request.user, address=client_address(request))
        return Response(RoutingRuleSerializer(self.get_queryset().get(pk=rule.pk)).data,
                        status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        rule = self.get_object()
        body = RoutingRuleWriteSerializer(rule, data=request.data, partial=True, schemes=user_territory_schemes(request.user))
        body.is_valid(raise_exception=True)
        routing_rule_save(rule, body.validated_data, actor=request.user, address=client_address(request))
        return Response(RoutingRuleSerializer(self.get_queryset().get(pk=rule.pk)).data)

    def update(self, request, *args, **kwargs):
        return self.partial_update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        """A rule some case was routed by is kept for the record: deactivate it instead."""
        routing_rule_delete(self.get_object(), actor=request.user, address=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

