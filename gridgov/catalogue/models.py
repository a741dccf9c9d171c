"""The matter catalogue (事项清单): categories and matters with their report level, duty tier, handling
mode, conditions, evidence, Open311 attributes and staged time limits.

Invariants: category codes are two digits, matter codes five (the category's two + three), both unique
within a catalogue; a matter's stages are numbered 1..n without gaps, each with a positive limit in one
of the calendar's units (`workdays.calendar.LimitUnit`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridgov.core.i18n import localized
from gridgov.workdays.calendar import LimitUnit


class ReportLevel(models.TextChoices):
    ROUTINE = "ROUTINE", _("Routine")
    URGENT = "URGENT", _("Urgent")
    MAJOR = "MAJOR", _("Major")


class DutyTier(models.TextChoices):
    GRID = "GRID", _("Grid worker handles it alone")
    COMMUNITY = "COMMUNITY", _("Village / community")
    DEPARTMENT = "DEPARTMENT", _("A named department")


class HandlingMode(models.TextChoices):
    SELF = "SELF", _("Found and handled on the spot (巡办合一)")
    COLLABORATIVE = "COLLABORATIVE", _("Reporter and department together (巡办协同)")
    HANDOVER = "HANDOVER", _("Handed to a department (巡办分离)")


class CategoryKind(models.TextChoices):
    PART = "PART", _("Parts (facilities)")
    EVENT = "EVENT", _("Events")
    SOCIAL = "SOCIAL", _("Social governance")


class Catalogue(models.Model):
    """One list of matters. `default` ships with gridgov; a deployment may keep its own."""

    key = models.SlugField(_("key"), max_length=40, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("matter catalogue")
        verbose_name_plural = _("matter catalogues")
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} {self.name_zh}"

    @property
    def name(self) -> str:
        return localized(self)


class SchemeCatalogue(models.Model):
    """Which catalogue a level scheme's matters come from. A scheme without a row uses the shipped `default`
    catalogue (`selectors.scheme_catalogue`, the one rule). Set through `services.scheme_catalogue_set`
    (or the admin, through `scheme_catalogue_save`), audited with old and new values."""

    scheme = models.OneToOneField("territory.LevelScheme", on_delete=models.CASCADE, related_name="matter_catalogue",
                                  verbose_name=_("scheme"))
    catalogue = models.ForeignKey(Catalogue, on_delete=models.PROTECT, related_name="scheme_uses",
                                  verbose_name=_("matter catalogue"))

    class Meta:
        verbose_name = _("catalogue of a scheme")
        verbose_name_plural = _("catalogues of the schemes")

    def __str__(self) -> str:
        return f"{self.scheme.key} → {self.catalogue.key}"


class Category(models.Model):
    catalogue = models.ForeignKey(Catalogue, on_delete=models.CASCADE, related_name="categories",
                                  verbose_name=_("catalogue"))
    code = models.CharField(_("code"), max_length=2)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=CategoryKind.choices)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["catalogue", "code"]
        constraints = [models.UniqueConstraint(fields=["catalogue", "code"], name="category_unique_code"),
                       models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{2}$"), name="category_code_2_digits")]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"

    @property
    def name(self) -> str:
        return localized(self)


class Matter(models.Model):
    catalogue = models.ForeignKey(Catalogue, on_delete=models.CASCADE, related_name="matters",
                                  verbose_name=_("catalogue"))
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="matters",
                                 verbose_name=_("category"))
    code = models.CharField(_("code"), max_length=5)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    report_level = models.CharField(_("report level"), max_length=8, choices=ReportLevel.choices,
                                    default=ReportLevel.ROUTINE)
    duty_tier = models.CharField(_("duty tier"), max_length=10, choices=DutyTier.choices, default=DutyTier.GRID)
    department = models.CharField(_("responsible department"), max_length=100, blank=True)
    handling_mode = models.CharField(_("default handling mode"), max_length=14, choices=HandlingMode.choices,
                                     default=HandlingMode.HANDOVER)
    registration_condition = models.TextField(_("registration condition"), blank=True)
    closing_condition = models.TextField(_("closing condition"), blank=True)
    evidence_before = models.BooleanField(_("photo before required"), default=False)
    evidence_after = models.BooleanField(_("photo after required"), default=False)
    attributes = models.JSONField(_("attributes (Open311)"), default=list, blank=True)
    # what the public feed (Open311) may show of its cases: nothing unless the matter is public (a dispute,
    # a security matter, a welfare request is not), and the exact position only in public space
    public_feed = models.BooleanField(
        _("published on the public feed"), default=False,
        help_text=_("Its cases may be published on the public Open311 feed once registered and released by staff"))
    public_space = models.BooleanField(
        _("in public space"), default=False,
        help_text=_("Its cases happen in public space (a street, a facility): the public feed shows their exact "
                    "position; otherwise only a point rounded to about 100 m"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("matter")
        verbose_name_plural = _("matters")
        ordering = ["catalogue", "code"]
        constraints = [models.UniqueConstraint(fields=["catalogue", "code"], name="matter_unique_code"),
                       models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{5}$"), name="matter_code_5_digits"),
                       models.CheckConstraint(condition=~Q(duty_tier="DEPARTMENT") | ~Q(department=""),
                                              name="matter_department_named")]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"

    @property
    def name(self) -> str:
        return localized(self)


class MatterStage(models.Model):
    """One stage of a matter's handling with its own time limit (e.g. fence off within 3 clock hours)."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="stages", verbose_name=_("matter"))
    order = models.PositiveSmallIntegerField(_("order"))
    name_zh = models.CharField(_("name (Chinese)"), max_length=60)
    name_en = models.CharField(_("name (English)"), max_length=60, blank=True)
    amount = models.DecimalField(_("time limit"), max_digits=7, decimal_places=2)
    unit = models.CharField(_("unit"), max_length=14, choices=LimitUnit.choices)
    closing_condition = models.TextField(_("closing condition"), blank=True)

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["matter", "order"]
        constraints = [models.UniqueConstraint(fields=["matter", "order"], name="stage_unique_order"),
                       models.CheckConstraint(condition=Q(amount__gt=0), name="stage_limit_positive")]

    def __str__(self) -> str:
        return f"{self.matter.code}.{self.order} {self.name_zh} ({self.amount} {self.unit})"

    @property
    def name(self) -> str:
        return localized(self)


class DutyList(models.Model):
    """A duty list of a deployment (Haimen: grid worker self-handled / village-community / department;
    Luohu: 信息核采, 网格巡查, 社区服务, 街社统筹). A matter enters a list only through an approved
    admission request; `version` counts the list's changes and each entry records the versions it
    was in, so the list as of any version can be read back. Matters on a list that `admits_to_grid`
    may be dispatched to grid workers; anything else stays the department's duty."""

    scheme = models.ForeignKey("territory.LevelScheme", on_delete=models.CASCADE, related_name="duty_lists",
                               verbose_name=_("scheme"))
    key = models.SlugField(_("key"), max_length=40)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    duty_tier = models.CharField(_("duty tier"), max_length=10, choices=DutyTier.choices, default=DutyTier.GRID)
    admits_to_grid = models.BooleanField(_("grid workers may be assigned its matters"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    version = models.PositiveIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("duty list")
        verbose_name_plural = _("duty lists")
        ordering = ["scheme", "order", "key"]
        constraints = [models.UniqueConstraint(fields=["scheme", "key"], name="duty_list_unique_key")]

    def __str__(self) -> str:
        return f"{self.key} {self.name_zh} v{self.version}"

    @property
    def name(self) -> str:
        return localized(self)


class DutyListEntry(models.Model):
    """A matter on a duty list from version `added_version` until `removed_version` (exclusive; null = still on)."""

    duty_list = models.ForeignKey(DutyList, on_delete=models.CASCADE, related_name="entries",
                                  verbose_name=_("duty list"))
    matter = models.ForeignKey(Matter, on_delete=models.PROTECT, related_name="duty_entries",
                               verbose_name=_("matter"))
    added_version = models.PositiveIntegerField(_("added in version"))
    removed_version = models.PositiveIntegerField(_("removed in version"), null=True, blank=True)
    request = models.ForeignKey("AdmissionRequest", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+", verbose_name=_("admission request"))

    class Meta:
        verbose_name = _("duty list entry")
        verbose_name_plural = _("duty list entries")
        ordering = ["duty_list", "matter__code"]
        constraints = [
            models.UniqueConstraint(fields=["duty_list", "matter"], condition=Q(removed_version__isnull=True),
                                    name="duty_entry_one_current"),
            models.CheckConstraint(condition=Q(removed_version__isnull=True)
                                   | Q(removed_version__gt=models.F("added_version")), name="duty_entry_versions"),
        ]

    def __str__(self) -> str:
        return f"{self.duty_list_id}:{self.matter_id} v{self.added_version}-{self.removed_version or ''}"


class AdmissionState(models.TextChoices):
    PENDING = "PENDING", _("Pending review")
    APPROVED = "APPROVED", _("Approved")
    REJECTED = "REJECTED", _("Rejected")
    WITHDRAWN = "WITHDRAWN", _("Withdrawn")


class AdmissionRequest(models.Model):
    """A department's application to push a matter down to a duty list (or take it off), and the grid
    office's decision with its reason."""

    class Change(models.TextChoices):
        ADD = "ADD", _("Add to the list")
        REMOVE = "REMOVE", _("Take off the list")

    duty_list = models.ForeignKey(DutyList, on_delete=models.CASCADE, related_name="requests",
                                  verbose_name=_("duty list"))
    matter = models.ForeignKey(Matter, on_delete=models.PROTECT, related_name="admission_requests",
                               verbose_name=_("matter"))
    change = models.CharField(_("change"), max_length=6, choices=Change.choices, default=Change.ADD)
    department = models.ForeignKey("accounts.Department", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="admission_requests", verbose_name=_("applying department"))
    reason = models.TextField(_("reason for the application"))
    state = models.CharField(_("state"), max_length=10, choices=AdmissionState.choices,
                             default=AdmissionState.PENDING)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("applied by"))
    applied_at = models.DateTimeField(_("applied at"), auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    list_version = models.PositiveIntegerField(_("list version after approval"), null=True, blank=True)

    class Meta:
        verbose_name = _("admission request")
        verbose_name_plural = _("admission requests")
        ordering = ["-applied_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["duty_list", "matter"], condition=Q(state="PENDING"),
                                    name="admission_one_pending"),
            models.CheckConstraint(condition=Q(state="PENDING") | Q(decided_at__isnull=False),
                                   name="admission_decided_at"),
        ]

    def __str__(self) -> str:
        return f"{self.change} {self.matter_id} → {self.duty_list_id} ({self.state})"
