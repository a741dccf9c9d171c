"""The closed loop: cases, their time-limited stages, append-only events, attachments, routing rules,
the per-deployment policy, workflow grants, escalations (吹哨报到), pending requests (extension,
parking) and notifications.

Invariants:
- a case's `state` changes only through `services.case_transition`, which locks the row, checks the
  transition table (`transitions.TRANSITIONS`) and the grants, bumps `version` and writes one
  `CaseEvent` in the same transaction; events are append-only (database triggers) and numbered
  1..n per case without gaps (`event_unique_seq`), so a lost or doubled event is a constraint error;
- the public case number is derived from the report date and the primary key, never stored twice;
- a reporter's contact is sealed at rest like residents' data and never reaches a handler unless a
  grant says their role needs it.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridgov.cases.states import CaseState
from gridgov.cases.transitions import ActionKind, EventKind, NoticeKind
from gridgov.catalogue.models import HandlingMode, ReportLevel
from gridgov.workdays.calendar import LimitUnit


class Channel(models.TextChoices):
    PATROL = "PATROL", _("Grid worker patrol")
    RESIDENT = "RESIDENT", _("Resident (web / QR page)")
    HOTLINE = "HOTLINE", _("12345 hotline")
    POLICE = "POLICE", _("Police transfer")
    CAMERA = "CAMERA", _("Camera algorithm")
    DEPARTMENT = "DEPARTMENT", _("Department")
    OPEN311 = "OPEN311", _("Open311 client")


class AssigneeKind(models.TextChoices):
    GRID_WORKER = "GRID_WORKER", _("Grid worker of the cell")
    COMMUNITY = "COMMUNITY", _("Village / community")
    DEPARTMENT = "DEPARTMENT", _("Department team")


class SlaStatus(models.TextChoices):
    NONE = "NONE", _("No running time limit")
    ON_TIME = "ON_TIME", _("On time")
    WARNING = "WARNING", _("Close to the limit")
    OVERDUE = "OVERDUE", _("Overdue")


class Publication(models.TextChoices):
    """Whether a case is on the public feed (Open311). Nothing is published until a staff member
    releases it; a hidden case stays off until published again."""

    PENDING = "PENDING", _("Not published")
    PUBLISHED = "PUBLISHED", _("Published")
    HIDDEN = "HIDDEN", _("Hidden")


class CasePolicy(models.Model):
    """A deployment's knobs for its loop. One row per scheme; a scheme without a row gets the defaults
    (`policy_for`)."""

    scheme = models.OneToOneField("territory.LevelScheme", on_delete=models.CASCADE, related_name="case_policy",
                                  verbose_name=_("scheme"))
    warning_share = models.DecimalField(
        _("yellow at share of the limit"), max_digits=3, decimal_places=2, default=0.8,
        help_text=_("A stage turns yellow once this share of its time limit has passed (0.80 = 80 %)"))
    duplicate_radius_m = models.PositiveIntegerField(_("duplicate radius (m)"), default=100)
    duplicate_window_hours = models.PositiveIntegerField(_("duplicate time window (hours)"), default=72)
    report_in_amount = models.DecimalField(_("report-in time limit"), max_digits=6, decimal_places=2, default=2)
    report_in_unit = models.CharField(_("report-in unit"), max_length=14, choices=LimitUnit.choices,
                                      default=LimitUnit.WORKING_HOURS)
    verification_sample_share = models.DecimalField(
        _("share of self-handled cases sampled for verification"), max_digits=3, decimal_places=2, default=0.2)
    escalate_when_overdue = models.BooleanField(
        _("whistle one level up when a stage turns red"), default=False)
    level_factors = models.JSONField(
        _("time-limit factor per report level"), default=dict, blank=True,
        help_text=_('e.g. {"URGENT": 0.5, "MAJOR": 0.25}: an urgent case gets half the matter\'s limits'))
    level_notify_depths = models.JSONField(
        _("levels told of urgent and major cases"), default=dict, blank=True,
        help_text=_('Depth of the territory levels whose leaders and offices are told, e.g. '
                    '{"URGENT": [1], "MAJOR": [0, 1]}'))
    reporter_verifies = models.BooleanField(
        _("the reporter verifies the handling"), default=False,
        help_text=_("The reporter may verify (close or send back) the handling of their report, beside the "
                    "command centre and the grid office; never a reporter who handled it themselves"))
    dissatisfied_below = models.PositiveSmallIntegerField(
        _("dissatisfied below score"), default=3,
        help_text=_("A satisfaction score (1–5) below this reopens the case"))

    class Meta:
        verbose_name = _("case policy")
        verbose_name_plural = _("case policies")
        constraints = [
            # a stage's yellow mark must come before its limit: the watch relies on it
            models.CheckConstraint(condition=Q(warning_share__gt=0, warning_share__lte=1), name="policy_warning_share",
                                   violation_error_message=_("the yellow share is more than 0 and at most 1")),
            models.CheckConstraint(condition=Q(verification_sample_share__gte=0, verification_sample_share__lte=1),
                                   name="policy_sample_share",
                                   violation_error_message=_("the sampled share is between 0 and 1")),
            models.CheckConstraint(condition=Q(report_in_amount__gt=0), name="policy_report_in_positive",
                                   violation_error_message=_("the report-in time limit must be positive")),
            models.CheckConstraint(condition=Q(dissatisfied_below__gte=1, dissatisfied_below__lte=6),
                                   name="policy_dissatisfied_range",
                                   violation_error_message=_("the dissatisfaction threshold is a score from 1 to 6")),
        ]

    def __str__(self) -> str:
        return f"policy {self.scheme_id}"


class ActionGrant(models.Model):
    """Who may take a workflow action: the data behind "which role may take which action at which level".
    A row grants `action` to a holder. ROLE rows name a role (or a role category) and optionally the
    level at which the role is held, over the case's cell or an ancestor of it. Rows with no scheme
    apply to every deployment; a deployment adds its own."""

    class Holder(models.TextChoices):
        ROLE = "ROLE", _("Holder of a role over the case's cell")
        CENTRE = "CENTRE", _("Command centre (sees the whole territory)")
        OWNER = "OWNER", _("The case's owner (首问首办)")
        ASSIGNEE = "ASSIGNEE", _("The case's current assignee")
        REPORTER = "REPORTER", _("Who reported it")
        REPORTER_VERIFYING = "REPORTER_VERIFYING", _("Who reported it, where the case policy lets reporters verify")
        REPORT_IN = "REPORT_IN", _("A department called to report in")
        SYSTEM = "SYSTEM", _("The system itself")

    scheme = models.ForeignKey("territory.LevelScheme", on_delete=models.CASCADE, null=True, blank=True,
                               related_name="action_grants", verbose_name=_("scheme"))
    action = models.CharField(_("action"), max_length=30, choices=ActionKind.choices)
    holder = models.CharField(_("holder"), max_length=18, choices=Holder.choices)
    role = models.ForeignKey("accounts.Role", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                             verbose_name=_("role"))
    role_category = models.CharField(_("role category"), max_length=20, blank=True)
    level = models.ForeignKey("territory.Level", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="+", verbose_name=_("held at level"))
    sees_reporter = models.BooleanField(_("sees who reported"), default=False)

    class Meta:
        verbose_name = _("action grant")
        verbose_name_plural = _("action grants")
        ordering = ["action", "holder", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(holder="ROLE") | Q(role__isnull=False) | ~Q(role_category=""),
                                   name="grant_role_named"),
        ]

    def __str__(self) -> str:
        who = self.role_id or self.role_category or ""
        return f"{self.action}: {self.holder} {who}".strip()


class RoutingRule(models.Model):
    """Ordered rules choosing who a registered case goes to. Empty conditions match anything; the first
    matching active rule (lowest `order`) wins and is recorded on the case."""

    scheme = models.ForeignKey("territory.LevelScheme", on_delete=models.CASCADE, related_name="routing_rules",
                               verbose_name=_("scheme"))
    order = models.PositiveIntegerField(_("order"))
    name = models.CharField(_("name"), max_length=100)
    active = models.BooleanField(_("active"), default=True)
    matter = models.ForeignKey("catalogue.Matter", on_delete=models.CASCADE, null=True, blank=True,
                               related_name="+", verbose_name=_("matter"))
    category = models.ForeignKey("catalogue.Category", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+", verbose_name=_("category"))
    node = models.ForeignKey("territory.Node", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                             verbose_name=_("within cell"), help_text=_("The cell or any cell below it"))
    polygon = models.JSONField(_("within polygon (GeoJSON)"), null=True, blank=True)
    time_from = models.TimeField(_("from time of day"), null=True, blank=True)
    time_to = models.TimeField(_("to time of day"), null=True, blank=True,
                               help_text=_("A window past midnight (22:00–06:00) is allowed"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True)
    report_level = models.CharField(_("report level"), max_length=8, choices=ReportLevel.choices, blank=True)
    target = models.CharField(_("handled by"), max_length=12, choices=AssigneeKind.choices)
    department = models.ForeignKey("accounts.Department", on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="+", verbose_name=_("department"))
    community_level = models.ForeignKey("territory.Level", on_delete=models.CASCADE, null=True, blank=True,
                                        related_name="+", verbose_name=_("community level"),
                                        help_text=_("The level of the cell's ancestor that handles it"))

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["scheme", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "order"], name="routing_unique_order"),
            models.CheckConstraint(condition=~Q(target="DEPARTMENT") | Q(department__isnull=False),
                                   name="routing_department_named"),
        ]

    def __str__(self) -> str:
        return f"#{self.order} {self.name}"


# A case's references that most cases leave empty (a hotline call has no reporting login; a case is with
# one assignee of three kinds, a person, a community or a team; few are routed by a rule, merged or
# published by hand): each is indexed only where it is set. A change of a
# case that touches an indexed column (its state, its colour) rewrites an entry in every index that holds
# the row; an index of the set references only holds the cases that have one. A look-up by a reference
# (`reporter=u`, `merged_into__in=…`, the checks of PROTECT) names a value, which the index covers.
PARTIAL_REFERENCES = ("reporter", "assignee_node", "assignee_team", "routing_rule", "merged_into", "publication_by")


class Case(models.Model):
    """One problem found in a cell, from its report to its evaluation."""

    # scheme, node, matter and assignee_user are looked up by the composite indexes of Meta, which begin
    # with them: an index of their own would be one more to write on every change of a case
    scheme = models.ForeignKey("territory.LevelScheme", on_delete=models.PROTECT, related_name="cases",
                               verbose_name=_("scheme"), db_index=False)
    node = models.ForeignKey("territory.Node", on_delete=models.PROTECT, related_name="cases",
                             verbose_name=_("cell"), db_index=False)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    place = models.CharField(_("place"), max_length=300, blank=True,
                             help_text=_("Where, in words (a street, a building), never a person"))
    matter = models.ForeignKey("catalogue.Matter", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="cases", verbose_name=_("matter"), db_index=False)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    external_ref = models.CharField(_("reference in the sending system"), max_length=64, blank=True)
    description = models.TextField(_("description"))
    report_level = models.CharField(_("report level"), max_length=8, choices=ReportLevel.choices,
                                    default=ReportLevel.ROUTINE)
    handling_mode = models.CharField(_("handling mode"), max_length=14, choices=HandlingMode.choices,
                                     default=HandlingMode.HANDOVER)
    state = models.CharField(_("state"), max_length=14, choices=CaseState.choices, default=CaseState.REPORTED)
    version = models.PositiveIntegerField(_("version"), default=1)
    tracking_code = models.CharField(_("tracking code"), max_length=16, unique=True)
    reported_at = models.DateTimeField(_("reported at"), db_index=True)
    # who reported: a login (grid worker, operator) and/or a protected contact (resident, hotline caller)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("reported by"), db_index=False)
    reporter_name_sealed = models.TextField(_("reporter's name (sealed)"), blank=True)
    reporter_phone_sealed = models.TextField(_("reporter's phone (sealed)"), blank=True)
    reporter_phone_masked = models.CharField(_("reporter's phone"), max_length=20, blank=True)
    anonymous = models.BooleanField(_("anonymous"), default=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("owner (首问首办)"))
    # who handles it now
    assignee_kind = models.CharField(_("assignee kind"), max_length=12, choices=AssigneeKind.choices, blank=True)
    assignee_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+", verbose_name=_("assigned person"), db_index=False)
    assignee_node = models.ForeignKey("territory.Node", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+", verbose_name=_("assigned community"), db_index=False)
    assignee_team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="cases", verbose_name=_("assigned team"), db_index=False)
    routing_rule = models.ForeignKey(RoutingRule, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("routing rule applied"), db_index=False)
    predicted_at = models.DateTimeField(_("predicted completion"), null=True, blank=True)
    # the clock: the earliest open stage's limit, its colour, and parking
    due_at = models.DateTimeField(_("due at"), null=True, blank=True, db_index=True)
    sla_status = models.CharField(_("time-limit status"), max_length=7, choices=SlaStatus.choices,
                                  default=SlaStatus.NONE)
    parked_at = models.DateTimeField(_("parked at"), null=True, blank=True)
    escalation_depth = models.PositiveSmallIntegerField(_("escalated to level depth"), null=True, blank=True)
    merged_into = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="merged", verbose_name=_("merged into"), db_index=False)
    rework_count = models.PositiveSmallIntegerField(_("rework count"), default=0)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    reported_back_at = models.DateTimeField(_("reported back at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # the public feed: who released (or hid) the case when, and the description as published (scrubbed)
    publication = models.CharField(_("public feed"), max_length=10, choices=Publication.choices,
                                   default=Publication.PENDING)
    publication_at = models.DateTimeField(_("published or hidden at"), null=True, blank=True)
    publication_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="+", verbose_name=_("published or hidden by"), db_index=False)
    public_description = models.TextField(_("description as published"), blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-reported_at", "-id"]
        permissions = [("view_reporter", _("Can see who reported a case"))]
        constraints = [
            models.CheckConstraint(condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                                   name="case_satisfaction_range"),
            models.CheckConstraint(condition=~Q(state="MERGED") | Q(merged_into__isnull=False),
                                   name="case_merged_has_target"),
            models.CheckConstraint(condition=~Q(state="PARKED") | Q(parked_at__isnull=False),
                                   name="case_parked_has_time"),
            models.CheckConstraint(condition=Q(publication="PENDING") | Q(publication_at__isnull=False),
                                   name="case_publication_has_time"),
        ]
        indexes = [
            models.Index(fields=["state", "sla_status"], name="case_state_sla_idx"),
            models.Index(fields=["node", "state"], name="case_node_state_idx"),
            models.Index(fields=["matter", "state"], name="case_matter_state_idx"),
            models.Index(fields=["assignee_user", "state"], name="case_assignee_idx"),
            models.Index(fields=["scheme", "publication", "reported_at"], name="case_publication_idx"),
            # a reference most cases leave empty is indexed where it is set (`PARTIAL_REFERENCES`)
            *(models.Index(fields=[name], name=f"case_{name}_idx", condition=Q(**{f"{name}__isnull": False}))
              for name in PARTIAL_REFERENCES),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        """The public case number: the local report date + id (e.g. 20261123-0000042)."""
        if not (self.pk and self.reported_at):
            return "(new)"
        return Case.number_of(self.pk, self.reported_at)

    @staticmethod
    def number_of(pk: int, reported_at: dt.datetime, zone: dt.tzinfo | None = None) -> str:
        """The number of case `pk` reported at `reported_at`, its date in `zone` (by default the current time
        zone): for callers that number many cases from plain values."""
        from django.utils import timezone

        return f"{timezone.localtime(reported_at, zone):%Y%m%d}-{pk:07d}"

    @staticmethod
    def pk_from_number(number: str) -> int | None:
        tail = str(number).rsplit("-", 1)[-1]
        return int(tail) if tail.isdigit() and len(tail) <= 18 else None


class CaseStage(models.Model):
    """One stage of a case's handling, copied from its matter with the limit adjusted for the report
    level: its running clock, its colour, when it was done. Extensions move `due_at`; the stage keeps
    its original limit in `amount`/`unit`."""

    # looked up through case_stage_unique_order, which begins with the case
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="stages", verbose_name=_("case"),
                             db_index=False)
    order = models.PositiveSmallIntegerField(_("order"))
    name_zh = models.CharField(_("name (Chinese)"), max_length=60)
    name_en = models.CharField(_("name (English)"), max_length=60, blank=True)
    amount = models.DecimalField(_("time limit"), max_digits=7, decimal_places=2)
    unit = models.CharField(_("unit"), max_length=14, choices=LimitUnit.choices)
    closing_condition = models.TextField(_("closing condition"), blank=True)
    started_at = models.DateTimeField(_("started at"))
    due_at = models.DateTimeField(_("due at"))
    warn_at = models.DateTimeField(_("yellow at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=7, choices=SlaStatus.choices, default=SlaStatus.ON_TIME)
    extended_count = models.PositiveSmallIntegerField(_("extensions"), default=0)

    class Meta:
        verbose_name = _("case stage")
        verbose_name_plural = _("case stages")
        ordering = ["case", "order"]
        constraints = [models.UniqueConstraint(fields=["case", "order"], name="case_stage_unique_order"),
                       models.CheckConstraint(condition=Q(due_at__gte=models.F("started_at")),
                                              name="case_stage_due_after_start")]
        # the time-limit watch's candidates: open green stages by their yellow mark, open yellow ones by
        # their limit (a red stage, or a done one, is in neither)
        indexes = [models.Index(fields=["warn_at", "id"], name="case_stage_green_idx",
                                condition=Q(completed_at__isnull=True, status="ON_TIME")),
                   models.Index(fields=["due_at", "id"], name="case_stage_yellow_idx",
                                condition=Q(completed_at__isnull=True, status="WARNING"))]

    def __str__(self) -> str:
        return f"{self.case_id}.{self.order} {self.name_zh}"


class CaseEvent(models.Model):
    """Append-only record of one thing done to a case (database triggers refuse UPDATE and DELETE).
    `seq` numbers a case's events 1..n; the timeline, KPIs and audits are read from these rows."""

    # looked up by event_unique_seq (case, seq), which begins with it
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events", verbose_name=_("case"),
                             db_index=False)
    seq = models.PositiveIntegerField(_("number"))
    kind = models.CharField(_("kind"), max_length=30, choices=EventKind.choices)
    at = models.DateTimeField(_("at"), db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("actor"))
    actor_role = models.CharField(_("acting as"), max_length=60, blank=True)
    node = models.ForeignKey("territory.Node", on_delete=models.PROTECT, related_name="+", verbose_name=_("cell"))
    from_state = models.CharField(_("from state"), max_length=14, blank=True)
    to_state = models.CharField(_("to state"), max_length=14, blank=True)
    note = models.TextField(_("note"), blank=True)
    old_values = models.JSONField(_("old values"), default=dict, blank=True)
    new_values = models.JSONField(_("new values"), default=dict, blank=True)
    attachments = models.JSONField(_("attachments"), default=list, blank=True)

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["case", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="event_unique_seq")]
        indexes = [models.Index(fields=["kind", "at"], name="event_kind_at_idx")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.kind}"


class Attachment(models.Model):
    """A photo (or other evidence) kept as a private file named by its SHA-256."""

    class Purpose(models.TextChoices):
        REPORT = "REPORT", _("Photo of the problem")
        BEFORE = "BEFORE", _("Before handling")
        AFTER = "AFTER", _("After handling")
        EVIDENCE = "EVIDENCE", _("Other evidence")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments", verbose_name=_("case"))
    purpose = models.CharField(_("purpose"), max_length=8, choices=Purpose.choices)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    content_type = models.CharField(_("type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    path = models.CharField(_("stored as"), max_length=200)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded at"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["case", "uploaded_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.purpose}:{self.sha256[:12]}"


class IntakeKey(models.Model):
    """An `Idempotency-Key` seen from one client: a retried submission returns the case it created."""

    client = models.CharField(_("client"), max_length=80)
    key = models.CharField(_("key"), max_length=100)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+", verbose_name=_("case"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="intake_key_unique")]

    def __str__(self) -> str:
        return f"{self.client}:{self.key}"


class RequestKind(models.TextChoices):
    EXTENSION = "EXTENSION", _("Deadline extension")
    PARKING = "PARKING", _("Parking (挂账)")


class CaseRequest(models.Model):
    """An application on a case awaiting a decision: a deadline extension or parking."""

    class State(models.TextChoices):
        PENDING = "PENDING", _("Pending")
        APPROVED = "APPROVED", _("Approved")
        REJECTED = "REJECTED", _("Rejected")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="requests", verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=10, choices=RequestKind.choices)
    amount = models.DecimalField(_("extra time"), max_digits=7, decimal_places=2, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=14, choices=LimitUnit.choices, blank=True)
    reason = models.TextField(_("reason"))
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("requested by"))
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("case request")
        verbose_name_plural = _("case requests")
        ordering = ["case", "requested_at"]
        constraints = [models.UniqueConstraint(fields=["case", "kind"], condition=Q(state="PENDING"),
                                               name="case_request_one_pending")]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.kind}:{self.state}"


class Escalation(models.Model):
    """A whistle (吹哨): the case raised to the level at `depth` (community, street, district); the named
    departments must report in (报到) by `report_in_due_at`."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="escalations", verbose_name=_("case"))
    depth = models.PositiveSmallIntegerField(_("level depth"))
    node = models.ForeignKey("territory.Node", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("raised to"))
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("raised by"))
    raised_at = models.DateTimeField(_("raised at"))
    reason = models.TextField(_("reason"))
    report_in_due_at = models.DateTimeField(_("report in by"))

    class Meta:
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        ordering = ["case", "raised_at"]

    def __str__(self) -> str:
        return f"{self.case_id}↑{self.depth}"


class ReportIn(models.Model):
    """A department called by a whistle, and when (and by whom) it reported in."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="report_ins",
                                   verbose_name=_("escalation"))
    department = models.ForeignKey("accounts.Department", on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("department"))
    reported_at = models.DateTimeField(_("reported in at"), null=True, blank=True)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("reported in by"))
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("report-in")
        verbose_name_plural = _("report-ins")
        ordering = ["escalation", "department"]
        constraints = [models.UniqueConstraint(fields=["escalation", "department"], name="report_in_unique")]

    def __str__(self) -> str:
        return f"{self.escalation_id}:{self.department_id}"


class Notification(models.Model):
    """A message to a user about a case. `key` makes sending idempotent: the time-limit watch and the
    transition service may try twice (retry, downtime), the row is written once."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                                  verbose_name=_("recipient"))
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=30, choices=NoticeKind.choices)
    key = models.CharField(_("key"), max_length=120)
    text = models.CharField(_("text"), max_length=300)
    created_at = models.DateTimeField(_("created at"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["recipient", "key"], name="notification_unique_key")]

    def __str__(self) -> str:
        return f"{self.recipient_id}:{self.key}"
