"""Serializers of the cases API (/api/cases/...).

Answers never carry a sealed column. Who reported a case (`reporter`: login, masked phone, anonymity)
is put in a case's detail only for users that `grants.sees_reporter` allows; for the others the key is
absent, the owner is null where it is the reporter and, on the timeline, the actor of the report (and of
anything the reporter did) is null and no value names the reporter. The tracking code is only for users
`grants.sees_tracking_code` allows: never a handler of the case. Input bodies only shape and bound the input; the services decide what it means.
"""

from __future__ import annotations

import re
from typing import Any

import shapely
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from gridgov.accounts.display import user_label
from gridgov.accounts.models import Department
from gridgov.cases.grants import actions_for, event_view, owner_shown
from gridgov.cases.models import (
    AssigneeKind,
    Attachment,
    Case,
    CaseEvent,
    CaseRequest,
    CaseStage,
    Channel,
    Escalation,
    Notification,
    ReportIn,
    RequestKind,
    RoutingRule,
    SlaStatus,
)
from gridgov.cases.services.intake import DESCRIPTION_MAX_LENGTH, PHOTOS_MAX, PLACE_MAX_LENGTH
from gridgov.cases.states import CaseState
from gridgov.cases.transitions import TRANSITIONS, Duty, event_label
from gridgov.catalogue.models import Category, HandlingMode, Matter, ReportLevel
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.core.api import BuiltFieldsOnce, InputFieldsOnce
from gridgov.territory.models import Level, Node
from gridgov.workdays.calendar import LimitUnit

MAX_ID = 2**63 - 1
# channels a person reports on through this API; CAMERA and OPEN311 come in through the integrations
API_CHANNELS = (Channel.PATROL, Channel.HOTLINE, Channel.POLICE, Channel.DEPARTMENT, Channel.RESIDENT)
ROW_ID = re.compile(r"^[0-9]{1,18}$")  # a numeric reference short enough to be a row id


def _no_nul(value: Any) -> None:
    """JSON stored in the database must not hold NUL characters (PostgreSQL refuses them)."""
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


def _key_or_id(value: str) -> None:
    """A department named by key or id: digits longer than a row id can be neither."""
    if value.isdigit() and not ROW_ID.match(value):
        raise serializers.ValidationError(_("unknown department %(value)s") % {"value": value})


def _id(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def _text(limit: int, **kwargs):
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_blank", True)
    kwargs.setdefault("default", "")
    return serializers.CharField(max_length=limit, **kwargs)


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectField(serializers.JSONField):
    """A JSON object (also accepted as a JSON string in a multipart form)."""

    default_error_messages = {"not_object": gettext_lazy("give a JSON object")}

    def __init__(self, **kwargs):
        super().__init__(validators=[_no_nul], **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is not None and not isinstance(value, dict):
            self.fail("not_object")
        return value


def _enum(component: str, choices) -> type[serializers.ChoiceField]:
    """A choice field documented as its own named schema component, so that fields of the same name with
    other choices elsewhere in the API (a resident's `state`, a job's `status`) keep their own names."""
    cls = type(f"{component}Field", (serializers.ChoiceField,), {"choice_values": [c[0] for c in choices]})
    return extend_schema_field({"type": "string", "enum": [c[0] for c in choices]}, component_name=component)(cls)


CaseStateField = _enum("CaseState", CaseState.choices)
SlaStatusField = _enum("SlaStatus", SlaStatus.choices)
AssigneeKindField = _enum("AssigneeKind", AssigneeKind.choices)
RequestKindField = _enum("CaseRequestKind", RequestKind.choices)
RequestStateField = _enum("CaseRequestState", CaseRequest.State.choices)
ActionField = _enum("CaseAction", [(t, t) for t in TRANSITIONS])
IntakeChannelField = _enum("IntakeChannel", [(c.value, c.label) for c in API_CHANNELS])


def _photos(help_text: str):
    return serializers.ListField(child=serializers.FileField(), required=False, max_length=PHOTOS_MAX,
                                 help_text=help_text)


# ------------------------------------------------------------------------------------------------ briefs
class NodeBriefSerializer(BuiltFieldsOnce, serializers.ModelSerializer):
    class Meta:
        model = Node
        fields = ["id", "code", "name"]


class MatterBriefSerializer(BuiltFieldsOnce, serializers.ModelSerializer):
    category = serializers.CharField(source="category.code", read_only=True)

    class Meta:
        model = Matter
        fields = ["code", "name", "category"]


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True, help_text="the person's name, as the pages show it")


class DepartmentBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "key", "name"]


class TeamBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    department = DepartmentBriefSerializer(read_only=True)


class AssigneeSerializer(serializers.Serializer):
    kind = AssigneeKindField(choices=AssigneeKind.choices, read_only=True)
    user = UserBriefSerializer(read_only=True, allow_null=True)
    node = NodeBriefSerializer(read_only=True, allow_null=True)
    team = TeamBriefSerializer(read_only=True, allow_null=True)


def user_data(user) -> dict | None:
    return {"id": user.pk, "username": user.get_username(), "name": user_label(user)} if user is not None else None


def assignee_data(case) -> dict | None:
    if not case.assignee_kind:
        return None
    team = case.assignee_team
    return {
        "kind": case.assignee_kind,
        "user": user_data(case.assignee_user),
        "node": {"id": case.assignee_node.pk, "code": case.assignee_node.code,
                 "name": case.assignee_node.name} if case.assignee_node_id else None,
        "team": {"id": team.pk, "name": team.name,
                 "department": {"id": team.department.pk, "key": team.department.key,
                                "name": team.department.name}} if team is not None else None,
    }


def attachment_url(case_id: int, attachment_id: int) -> str:
    return reverse("case-attachment", kwargs={"pk": case_id, "att_id": attachment_id})


# ------------------------------------------------------------------------------------------ case answers
class CaseStageSerializer(BuiltFieldsOnce, serializers.ModelSerializer):
    status = SlaStatusField(choices=SlaStatus.choices, read_only=True)

    class Meta:
        model = CaseStage
        fields = ["order", "name_zh", "name_en", "amount", "unit", "closing_condition", "started_at", "warn_at",
                  "due_at", "completed_at", "status", "extended_count"]


class ReportInSerializer(BuiltFieldsOnce, serializers.ModelSerializer):
    department = DepartmentBriefSerializer(read_only=True)
    reported_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ReportIn
        fields = ["department", "reported_at", "reported_by", "note"]


class EscalationSerializer(BuiltFieldsOnce, serializers.ModelSerializer):
    node = NodeBriefSerializer(read_only=True)
    raised_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    report_ins = ReportInSerializer(many=True, read_only=True)

    class Meta:
        model = Escalation
        fields = ["id", "depth", "node", "raised_by", "raised_at", "reason", "report_in_due_at", "report_ins"]


class CaseRequestSerializer(BuiltFieldsOnce, serializers.ModelSerializer):
    kind = RequestKindField(choices=RequestKind.choices, read_only=True)
    state = RequestStateField(choices=CaseRequest.State.choices, read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = CaseRequest
        fields = ["id", "kind", "amount", "unit", "reason", "state", "requested_by", "requested_at"]


class AttachmentSerializer(BuiltFieldsOnce, serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "purpose", "content_type", "size", "width", "height", "sha256", "uploaded_at", "url",
                  "thumbnail_url"]

    def get_url(self, obj) -> str:
        return attachment_url(obj.case_id, obj.pk)

    def get_thumbnail_url(self, obj) -> str:
        return f"{attachment_url(obj.case_id, obj.pk)}?size=thumb"


class ReporterSerializer(serializers.Serializer):
    """Who reported the case, for the users allowed to know: the login (if any), the masked phone."""

    user = serializers.SerializerMethodField()
    phone = serializers.CharField(source="reporter_phone_masked", read_only=True,
                                  help_text="masked; the clear contact only through reveal-reporter/")
    anonymous = serializers.BooleanField(read_only=True)

    def get_user(self, case) -> str | None:
        return case.reporter.get_username() if case.reporter_id else None


class CaseListSerializer(BuiltFieldsOnce, serializers.ModelSerializer):
    number = serializers.CharField(read_only=True, help_text="public case number: report date and id")
    matter = MatterBriefSerializer(read_only=True, allow_null=True)
    node = NodeBriefSerializer(read_only=True)
    state = CaseStateField(choices=CaseState.choices, read_only=True)
    sla_status = SlaStatusField(choices=SlaStatus.choices, read_only=True)
    assignee = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["id", "number", "state", "version", "matter", "node", "place", "channel", "report_level",
                  "handling_mode", "assignee", "sla_status", "due_at", "reported_at", "closed_at"]
        read_only_fields = fields

    @extend_schema_field(AssigneeSerializer(allow_null=True))
    def get_assignee(self, case) -> dict | None:
        return assignee_data(case)


class CaseDetailSerializer(CaseListSerializer):
    """A case as its handlers see it. `reporter` is present only for users allowed to know who reported
    the case; `actions` lists what the caller may do now."""

    owner = serializers.SerializerMethodField()
    routing_rule = serializers.CharField(source="routing_rule.name", read_only=True, default=None, allow_null=True)
    merged_into = serializers.SerializerMethodField()
    stages = CaseStageSerializer(many=True, read_only=True)
    escalations = EscalationSerializer(many=True, read_only=True)
    pending_requests = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)
    actions = serializers.SerializerMethodField()
    reporter = ReporterSerializer(source="*", required=False,
                                  help_text="only for users allowed to see who reported the case")
    tracking_code = serializers.CharField(read_only=True, required=False,
                                          help_text="the reporter's key to the public tracking page: only for "
                                                    "users allowed to see who reported who never handled the case")

    class Meta(CaseListSerializer.Meta):
        fields = [*CaseListSerializer.Meta.fields, "tracking_code", "lon", "lat", "description", "external_ref",
                  "attributes", "owner", "routing_rule", "predicted_at", "parked_at", "escalation_depth",
                  "merged_into", "rework_count", "satisfaction", "registered_at", "dispatched_at", "reported_back_at",
                  "stages", "escalations", "pending_requests", "attachments", "actions", "reporter"]
        read_only_fields = [f for f in fields if f not in ("reporter", "tracking_code")]

    def to_representation(self, case):
        data = super().to_representation(case)
        if not self.context.get("sees_reporter"):
            data.pop("reporter", None)
        if not self.context.get("sees_tracking_code"):
            data.pop("tracking_code", None)
        return data

    @extend_schema_field(UserBriefSerializer(allow_null=True))
    def get_owner(self, case) -> dict | None:
        return user_data(case.owner) if owner_shown(case, sees=bool(self.context.get("sees_reporter"))) else None

    @extend_schema_field(inline_serializer("MergedInto", {"id": serializers.IntegerField(),
                                                          "number": serializers.CharField()}, allow_null=True))
    def get_merged_into(self, case) -> dict | None:
        target = case.merged_into
        return {"id": target.pk, "number": target.number} if target is not None else None

    @extend_schema_field(CaseRequestSerializer(many=True))
    def get_pending_requests(self, case):
        rows = [r for r in case.requests.all() if r.state == CaseRequest.State.PENDING]
        return CaseRequestSerializer(rows, many=True).data

    def get_actions(self, case) -> list[str]:
        return actions_for(self.context["request"].user, case)


class DuplicateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    distance_m = serializers.FloatField()
    state = serializers.CharField()


def duplicates_data(rows) -> list[dict]:
    return [{"id": c.pk, "number": c.number, "distance_m": round(d, 1), "state": c.state} for c, d in rows]


class CaseIntakeSerializer(CaseDetailSerializer):
    duplicates = serializers.SerializerMethodField(help_text="open cases of the same matter nearby, nearest "
                                                             "first (offered for merging)")

    class Meta(CaseDetailSerializer.Meta):
        fields = [*CaseDetailSerializer.Meta.fields, "duplicates"]
        read_only_fields = [f for f in fields if f != "reporter"]

    @extend_schema_field(DuplicateSerializer(many=True))
    def get_duplicates(self, case):
        return self.context.get("duplicates", [])


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.ChoiceField(choices=[("state", "state"), ("version", "version")],
                                   help_text="state: the action is not possible in the case's state; version: "
                                             "the case changed since you read it")
    state = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)


class EventSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField(help_text="the actor's login")
    actor_name = serializers.SerializerMethodField(help_text="the actor's name, as the pages show it")
    actor_role = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvent
        fields = ["seq", "kind", "label", "at", "actor", "actor_name", "actor_role", "from_state", "to_state", "note",
                  "old_values", "new_values", "attachments"]

    def _view(self, event):
        """The event as this viewer may read it (`grants.event_view`, the rule the case page reads too)."""
        return event_view(event, self.context["case"], sees=bool(self.context.get("sees_reporter")))

    def to_representation(self, event):
        data = super().to_representation(event)
        view = self._view(event)
        data["old_values"], data["new_values"] = view.old_values, view.new_values
        return data

    def get_label(self, event) -> str:
        return str(event_label(event.kind))

    def get_actor(self, event) -> str | None:
        actor = self._view(event).actor
        return actor.get_username() if actor is not None else None

    def get_actor_name(self, event) -> str | None:
        actor = self._view(event).actor
        return user_label(actor) if actor is not None else None

    def get_actor_role(self, event) -> str | None:
        return self._view(event).actor_role or None

    @extend_schema_field(inline_serializer("EventAttachment", {
        "id": serializers.IntegerField(), "purpose": serializers.CharField(), "sha256": serializers.CharField(),
        "url": serializers.CharField()}, many=True))
    def get_attachments(self, event):
        return [{"id": a.get("id"), "purpose": a.get("purpose"), "sha256": a.get("sha256"),
                 "url": attachment_url(event.case_id, a["id"])} for a in event.attachments or [] if a.get("id")]


class NotificationSerializer(serializers.ModelSerializer):
    case_number = serializers.CharField(source="case.number", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "case", "case_number", "kind", "text", "created_at", "read_at"]


WorkflowSerializer = inline_serializer("Workflow", {
    "states": inline_serializer("WorkflowState", {
        "key": serializers.CharField(), "label": serializers.CharField(), "terminal": serializers.BooleanField(),
    }, many=True),
    "actions": inline_serializer("WorkflowAction", {
        "action": serializers.CharField(), "label": serializers.CharField(),
        "from": serializers.ListField(child=serializers.CharField()),
        "to": serializers.CharField(allow_null=True),
        "default_holders": serializers.ListField(child=serializers.CharField()),
        "clock": serializers.CharField(), "reason_required": serializers.BooleanField(),
        "evidence_required": serializers.ListField(child=serializers.CharField()),
        "evidence": inline_serializer("WorkflowEvidence", {
            "purpose": serializers.CharField(), "when": serializers.CharField(
                help_text="ALWAYS, IF_MATTER_ASKS (the matter asks for photos after handling) or "
                          "UNLESS_REPORT_PHOTO (the report's photo stands in)")}, many=True),
        "fields": serializers.ListField(child=serializers.CharField()),
        "required_fields": serializers.ListField(child=serializers.CharField()),
        "duty": serializers.ChoiceField(choices=[(d.value, d.value) for d in Duty],
                                        help_text="separation of duties: HANDLES makes the actor a handler of the "
                                                  "round; CHECKS and DECIDES are refused to its handlers"),
        "handler": serializers.CharField(allow_null=True, help_text="what the action does beyond state and clock"),
        "notices": serializers.ListField(child=serializers.CharField(), help_text="who is told"),
        "reporter_step": serializers.CharField(allow_null=True, help_text="the step a reporter is texted"),
        "public": serializers.BooleanField(help_text="the public tracking page shows the state it reaches"),
        "decides": serializers.CharField(allow_null=True, help_text="the application it decides (offered only "
                                                                     "while one waits)"),
    }, many=True),
    "mermaid": serializers.CharField(help_text="the table as a Mermaid state diagram"),
})


# ---------------------------------------------------------------------------------------- input bodies
class CaseReportSerializer(InputFieldsOnce, serializers.Serializer):
    """A report (intake). Give where it is as a point (lon, lat), a cell (code or id) or a known
    building's address in `place`."""

    channel = IntakeChannelField(choices=[(c.value, c.label) for c in API_CHANNELS], error_messages={
        "invalid_choice": gettext_lazy('"{input}" is not a channel of this API: use PATROL, HOTLINE, POLICE, '
                                       'DEPARTMENT or RESIDENT (camera and Open311 reports come in through the '
                                       'integrations)')})
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH)
    scheme = serializers.SlugField(required=False, max_length=40, help_text="level scheme key (needed only when "
                                                                            "several exist and no cell is given)")
    matter = serializers.RegexField(r"^[0-9]{5}$", required=False, allow_blank=True, help_text="five-digit matter code")
    node = serializers.RegexField(r"^[-0-9A-Za-z_]{1,32}$", required=False, allow_blank=True,
                                  help_text="cell code or id")
    lon = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    place = _text(PLACE_MAX_LENGTH, help_text="where, in words (street, building), never a person")
    reporter_name = _text(50, help_text="sealed at rest; never answered in clear")
    reporter_phone = _text(40, help_text="sealed at rest; answered masked")
    anonymous = serializers.BooleanField(required=False, default=False)
    report_level = serializers.ChoiceField(choices=ReportLevel.choices, required=False)
    handling_mode = serializers.ChoiceField(choices=HandlingMode.choices, required=False)
    external_ref = _text(64, help_text="reference in the sending system")
    attributes = ObjectField(required=False, help_text="the matter's attributes: code → value")
    self_handled = serializers.BooleanField(required=False, default=False,
                                            help_text="handled on the spot by the patrol's reporter (巡办合一)")
    note = _text(2000)


class CaseReportUploadSerializer(CaseReportSerializer):
    photos = _photos("photos of the problem (JPEG, PNG or WebP)")
    before_photos = _photos("before handling (self-handled reports)")
    after_photos = _photos("after handling (self-handled reports)")


class AssigneeInputSerializer(serializers.Serializer):
    kind = AssigneeKindField(choices=AssigneeKind.choices)
    user = _id(required=False, allow_null=True, help_text="GRID_WORKER: the person (else the cell's grid worker)")
    node = _id(required=False, allow_null=True, help_text="COMMUNITY: the cell above the case's cell")
    team = _id(required=False, allow_null=True, help_text="DEPARTMENT: the team")
    department = serializers.CharField(required=False, max_length=40, validators=[_key_or_id],
                                       help_text="DEPARTMENT: key or id (its team for the cell is chosen)")


class CaseActionSerializer(serializers.Serializer):
    """An action of the workflow table (GET /api/cases/workflow/) and its inputs; an input the action
    does not take is refused."""

    action = ActionField(choices=[(t, t) for t in TRANSITIONS])
    reason = _text(2000, help_text="required by the actions marked reason_required")
    note = _text(2000)
    expected_version = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1,
                                                help_text="the version you read (or the If-Match header); a "
                                                          "newer one on the server is a 409")
    matter = serializers.RegexField(r"^[0-9]{5}$", required=False, help_text="register: five-digit matter code")
    report_level = serializers.ChoiceField(choices=ReportLevel.choices, required=False)
    handling_mode = serializers.ChoiceField(choices=HandlingMode.choices, required=False)
    into = serializers.RegexField(r"^([0-9]{8}-)?[0-9]{1,18}$", required=False,
                                  help_text="merge: the case number or id to merge into")
    assignee = AssigneeInputSerializer(required=False, help_text="dispatch / reroute: left out = routing rules")
    satisfaction = serializers.IntegerField(required=False, min_value=1, max_value=5)
    amount = serializers.DecimalField(required=False, max_digits=7, decimal_places=2, min_value=0,
                                      max_value=10000, help_text="request_extension: extra time")
    unit = serializers.ChoiceField(choices=LimitUnit.choices, required=False)
    depth = serializers.IntegerField(required=False, min_value=0, max_value=32767,
                                     help_text="whistle: depth of the level raised to (else one above)")
    departments = serializers.ListField(child=serializers.CharField(max_length=40, validators=[_key_or_id]),
                                        required=False, max_length=50,
                                        help_text="whistle: departments (key or id) that must report in")

    ACTION_FIELDS = ("matter", "report_level", "handling_mode", "into", "assignee", "satisfaction", "amount", "unit",
                     "depth", "departments")

    def validate(self, attrs):
        t = TRANSITIONS[attrs["action"]]
        for name in self.ACTION_FIELDS:
            if name in attrs and not t.takes(name):
                raise serializers.ValidationError({name: [_("%(action)s does not take this field")
                                                          % {"action": t.action}]})
        return attrs


class CaseActionUploadSerializer(CaseActionSerializer):
    photos = _photos("evidence photos")
    before_photos = _photos("before handling")
    after_photos = _photos("after handling")


class RevealReporterSerializer(serializers.Serializer):
    purpose = serializers.CharField(max_length=300, allow_blank=True, help_text="why you need the contact")


class RevealedReporterSerializer(serializers.Serializer):
    user = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    anonymous = serializers.BooleanField()


# ------------------------------------------------------------------------------------------ routing rules
class RoutingRuleSerializer(serializers.ModelSerializer):
    scheme = serializers.SlugRelatedField(slug_field="key", read_only=True)
    matter = serializers.CharField(source="matter.code", read_only=True, default=None, allow_null=True)
    category = serializers.CharField(source="category.code", read_only=True, default=None, allow_null=True)
    department = serializers.CharField(source="department.key", read_only=True, default=None, allow_null=True)
    community_level = serializers.CharField(source="community_level.key", read_only=True, default=None,
                                            allow_null=True)
    polygon = serializers.SerializerMethodField()
    target = AssigneeKindField(choices=AssigneeKind.choices, read_only=True)

    class Meta:
        model = RoutingRule
        fields = ["id", "scheme", "order", "name", "active", "matter", "category", "node", "polygon", "time_from",
                  "time_to", "channel", "report_level", "target", "department", "community_level"]

    @extend_schema_field({"type": "object", "additionalProperties": True, "nullable": True})
    def get_polygon(self, rule):
        return rule.polygon


def _geometry_check(value):
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise serializers.ValidationError(_("give a GeoJSON Polygon or MultiPolygon"))
    try:
        geom = shapely.geometry.shape(value)
    except Exception:  # any malformed input (shapely raises many kinds): a 400, never a 500
        raise serializers.ValidationError(_("not a readable GeoJSON polygon")) from None
    if geom.is_empty or not geom.is_valid:
        raise serializers.ValidationError(_("the polygon is empty or invalid (it crosses itself)"))
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise serializers.ValidationError(_("coordinates must be longitude and latitude"))
    return value


class RoutingRuleWriteSerializer(serializers.Serializer):
    """A routing rule: empty conditions match anything; the lowest `order` that matches wins."""

    scheme = serializers.SlugField(max_length=40, help_text="level scheme key (create only)")
    order = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    name = serializers.CharField(max_length=100)
    active = serializers.BooleanField(required=False, default=True)
    matter = serializers.RegexField(r"^[0-9]{5}$", required=False, allow_blank=True, allow_null=True)
    category = serializers.RegexField(r"^[0-9]{2}$", required=False, allow_blank=True, allow_null=True)
    node = _id(required=False, allow_null=True, help_text="the rule holds within this cell and below")
    polygon = ObjectField(required=False, allow_null=True, help_text="GeoJSON Polygon or MultiPolygon (lon/lat)")
    time_from = serializers.TimeField(required=False, allow_null=True)
    time_to = serializers.TimeField(required=False, allow_null=True)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    report_level = serializers.ChoiceField(choices=ReportLevel.choices, required=False, allow_blank=True)
    target = AssigneeKindField(choices=AssigneeKind.choices)
    department = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True,
                                       help_text="department key (target DEPARTMENT)")
    community_level = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True,
                                            help_text="level key (target COMMUNITY; else the nearest non-grid level)")

    def __init__(self, *args, schemes=None, **kwargs):
        self.schemes = schemes  # queryset of the schemes the caller may configure
        super().__init__(*args, **kwargs)
        if self.instance is not None:
            self.fields.pop("scheme")

    def validate_polygon(self, value):
        return _geometry_check(value)

    def validate(self, attrs):
        rule: RoutingRule | None = self.instance
        if rule is None:
            scheme = self.schemes.filter(key=attrs["scheme"]).first()
            if scheme is None:
                raise serializers.ValidationError({"scheme": [_("unknown level scheme")]})
        else:
            scheme = rule.scheme
        out: dict[str, Any] = {"scheme": scheme}
        for name in ("order", "name", "active", "time_from", "time_to", "channel", "report_level", "target",
                     "polygon"):
            if name in attrs:
                out[name] = attrs[name]
        catalogue = scheme_catalogue(scheme)
        if "matter" in attrs:
            code = attrs["matter"]
            out["matter"] = Matter.objects.filter(catalogue=catalogue, code=code).first() if code else None
            if code and out["matter"] is None:
                raise serializers.ValidationError({"matter": [_("unknown matter %(code)s") % {"code": code}]})
        if "category" in attrs:
            code = attrs["category"]
            out["category"] = Category.objects.filter(catalogue=catalogue, code=code).first() if code else None
            if code and out["category"] is None:
                raise serializers.ValidationError({"category": [_("unknown category %(code)s") % {"code": code}]})
        if "node" in attrs:
            pk = attrs["node"]
            out["node"] = Node.objects.filter(pk=pk, scheme=scheme).first() if pk else None
            if pk and out["node"] is None:
                raise serializers.ValidationError({"node": [_("not a cell of this level scheme")]})
        if "department" in attrs:
            key = attrs["department"]
            out["department"] = Department.objects.filter(scheme=scheme, key=key).first() if key else None
            if key and out["department"] is None:
                raise serializers.ValidationError({"department": [_("not a department of this level scheme")]})
        if "community_level" in attrs:
            key = attrs["community_level"]
            out["community_level"] = Level.objects.filter(scheme=scheme, key=key).first() if key else None
            if key and out["community_level"] is None:
                raise serializers.ValidationError({"community_level": [_("not a level of this level scheme")]})

        def final(name):
            return out[name] if name in out else getattr(rule, name, None)

        if final("target") == AssigneeKind.DEPARTMENT and final("department") is None:
            raise serializers.ValidationError({"department": [_("a rule handing cases to a department names it")]})
        if (final("time_from") is None) != (final("time_to") is None):
            raise serializers.ValidationError({"time_to": [_("give both ends of the time window, or neither")]})
        order = final("order")
        clash = RoutingRule.objects.filter(scheme=scheme, order=order).exclude(pk=getattr(rule, "pk", None))
        if clash.exists():
            raise serializers.ValidationError({"order": [_("rule #%(order)s already exists in this level scheme")
                                                         % {"order": order}]})
        for name in ("channel", "report_level"):
            if out.get(name) is None and name in out:
                out[name] = ""
        return out
