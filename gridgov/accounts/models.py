"""Users, people in charge, the role catalogue and assignments of people to cells.

A `Person` is someone named in charge of a cell (grid worker, unit leader, community police ...);
they may or may not log in (`Person.user`). An `Assignment` ties a person to a node in a role for a
period. What a logged-in user may see is the union of the subtrees of the nodes of their current
assignments whose role grants scope (see `selectors.user_scope_paths`).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridgov.core.i18n import localized
from gridgov.core.names import validate_name


class AdminRole(models.TextChoices):
    """The three administrators of MLPS level 3 (三员分立). One field, so one account holds at most one of
    them; what each may do is decided by `accounts.admin_roles.admin_role_allows` alone."""

    SYSTEM = "SYSTEM", _("System administrator")
    SECURITY = "SECURITY", _("Security administrator")
    AUDIT = "AUDIT", _("Audit administrator")


class User(AbstractUser):
    """A login. Lock-out state lives here; personal details of people in charge live on `Person`.

    `password_changed_at` is set whenever a password is set: API tokens issued before it are refused and the
    password policy's expiry counts from it.
    Logins are deactivated, never deleted (`accounts.services.user_deactivate`): audit and history rows
    keep pointing at them."""

    failed_login_count = models.PositiveSmallIntegerField(_("failed logins in a row"), default=0)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    password_changed_at = models.DateTimeField(_("password changed at"), null=True, blank=True)
    sees_everything = models.BooleanField(
        _("sees the whole territory"), default=False,
        help_text=_("District-wide staff (command centre, grid office) see every node of their scheme without "
                    "assignments"),
    )
    scheme = models.ForeignKey(
        "territory.LevelScheme", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("scheme"),
        help_text=_("The deployment this login works in; a district-wide login sees this scheme only"))
    platform_wide = models.BooleanField(
        _("platform role (every scheme)"), default=False,
        help_text=_("Sees every deployment in this database. Only for platform operators; granted and "
                    "revoked in the audit log"))
    admin_role = models.CharField(_("administrator role"), max_length=10, choices=AdminRole.choices, blank=True,
                                  default="",
                                  help_text=_("System, security or audit administrator (at most one)"))

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(condition=Q(admin_role__in=["", *AdminRole.values]), name="user_admin_role_known"),
        ]

    def __str__(self) -> str:
        return self.username

    def set_password(self, raw_password):
        super().set_password(raw_password)
        from django.utils import timezone

        self.password_changed_at = timezone.now()

    def has_perm(self, perm, obj=None):
        # the administrator role decides first (三员分立); every ModelAdmin's has_*_permission lands here
        from gridgov.accounts.admin_roles import admin_role_allows

        verdict = admin_role_allows(self, perm)
        if verdict is not None:
            return verdict
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label):
        from gridgov.accounts.admin_roles import admin_role_allows_module

        verdict = admin_role_allows_module(self, app_label)
        if verdict is not None:
            return verdict
        return super().has_module_perms(app_label)


class PasswordHistory(models.Model):
    """A hash of a password a user had, so the policy can refuse reusing one of the last few (written by the
    password policy's validator whenever a password is saved; older rows beyond the policy's count go)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history",
                             verbose_name=_("user"))
    password = models.CharField(_("password hash"), max_length=128)
    set_at = models.DateTimeField(_("set at"), auto_now_add=True)

    class Meta:
        verbose_name = _("former password")
        verbose_name_plural = _("former passwords")
        ordering = ["user", "-set_at", "-id"]
        indexes = [models.Index(fields=["user", "-set_at"], name="password_history_user")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.set_at:%Y-%m-%d}"


class RoleCategory(models.TextChoices):
    LEADER = "LEADER", _("Leader")
    GRID_WORKER = "GRID_WORKER", _("Grid worker")
    HELPER = "HELPER", _("Helper (1+N)")
    POLICE = "POLICE", _("Police")
    PARTY = "PARTY", _("Party organisation")
    LEGAL = "LEGAL", _("Legal adviser")
    VOLUNTEER = "VOLUNTEER", _("Volunteer")
    PROPERTY = "PROPERTY", _("Property staff")
    OFFICE = "OFFICE", _("Office staff")
    OTHER = "OTHER", _("Other")


class Role(models.Model):
    """A role of the deployment's catalogue (一长三员, 三长一员, 1+N helpers, community police ...)."""

    scheme = models.ForeignKey("territory.LevelScheme", on_delete=models.CASCADE, related_name="roles",
                               verbose_name=_("scheme"))
    key = models.SlugField(_("key"), max_length=40)
    name_zh = models.CharField(_("name (Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50, blank=True)
    category = models.CharField(_("category"), max_length=20, choices=RoleCategory.choices,
                                default=RoleCategory.OTHER)
    levels = models.ManyToManyField("territory.Level", blank=True, related_name="roles",
                                    verbose_name=_("levels"),
                                    help_text=_("Levels where this role may be assigned; empty = any level"))
    grants_scope = models.BooleanField(
        _("grants data scope"), default=True,
        help_text=_("A user holding this role sees the node and everything below it"),
    )
    reveals_personal_data = models.BooleanField(
        _("may reveal personal data"), default=False,
        help_text=_("Holders may reveal residents' ID numbers, phones, names and addresses in the cells they are "
                    "assigned to, stating a purpose each time (every reveal is logged)"))
    duties = models.TextField(_("standard duties"), blank=True,
                              help_text=_("The standard duties (一编三定) given to holders by default"))
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["scheme", "order", "key"]
        constraints = [models.UniqueConstraint(fields=["scheme", "key"], name="role_unique_key")]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.key})"

    @property
    def name(self) -> str:
        return localized(self)


class Person(models.Model):
    """Someone who may be put in charge of cells. The phone is the work contact published on the
    cell card; it is given by the person for that purpose."""

    name = models.CharField(_("name"), max_length=100, validators=[validate_name])
    phone = models.CharField(_("work phone"), max_length=20, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True,
                                    help_text=_("e.g. police station, department, property company"))
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="person", verbose_name=_("login"))
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("person in charge")
        verbose_name_plural = _("people in charge")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"


def assignment_current_q(prefix: str = "", on=None) -> Q:
    """An assignment held on `on` (today): started, and not ended before it. `prefix` reaches the
    assignment through a relation ("assignee_node__assignments__")."""
    from django.utils import timezone

    day = on or timezone.localdate()
    return Q(**{f"{prefix}start_date__lte": day}) & (Q(**{f"{prefix}end_date__isnull": True})
                                                     | Q(**{f"{prefix}end_date__gte": day}))


class AssignmentQuerySet(models.QuerySet):
    def current(self, on=None):
        return self.filter(assignment_current_q(on=on))


class Assignment(models.Model):
    """Person ↔ node ↔ role for [start_date, end_date] (end inclusive; empty = open)."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="assignments",
                               verbose_name=_("person"))
    node = models.ForeignKey("territory.Node", on_delete=models.PROTECT, related_name="assignments",
                             verbose_name=_("node"))
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("role"))
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    duties = models.TextField(_("duties"), blank=True, help_text=_("This person's written duties in this cell"))
    is_public = models.BooleanField(_("shown on the cell card"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["node", "role__order", "start_date"]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                                   name="assignment_period"),
            models.UniqueConstraint(fields=["person", "node", "role"], condition=Q(end_date__isnull=True),
                                    name="assignment_one_open"),
        ]
        indexes = [models.Index(fields=["node", "end_date"], name="assignment_node_idx")]

    def __str__(self) -> str:
        return f"{self.person_id}@{self.node_id}:{self.role_id}"


class Department(models.Model):
    """A line department of the deployment (城管局, 水务局, 派出所 ...) that handles cases handed to it.
    Its work is done by teams, each responsible for an area of the territory."""

    scheme = models.ForeignKey("territory.LevelScheme", on_delete=models.CASCADE, related_name="departments",
                               verbose_name=_("scheme"))
    key = models.SlugField(_("key"), max_length=40)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["scheme", "key"]
        constraints = [models.UniqueConstraint(fields=["scheme", "key"], name="department_unique_key")]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.key})"

    @property
    def name(self) -> str:
        return localized(self)


class Team(models.Model):
    """A department's team answering for the cells under `areas` (empty = the whole territory: the
    department's default team). Members are logins; what a member may do on a case handed to the team
    is decided by the case workflow's grants, not by territorial scope."""

    # the name of the team a department gets when it has none (it answers for the whole territory and is shown
    # as the department itself: accounts.display.team_label)
    DEFAULT_NAME = "默认组"

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="teams",
                                   verbose_name=_("department"))
    name = models.CharField(_("name"), max_length=100)
    areas = models.ManyToManyField("territory.Node", blank=True, related_name="teams", verbose_name=_("areas"))
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams",
                                     verbose_name=_("members"))
    phone = models.CharField(_("duty phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["department", "name"]
        constraints = [models.UniqueConstraint(fields=["department", "name"], name="team_unique_name")]

    def __str__(self) -> str:
        return f"{self.department.key}/{self.name}"


class PositionReport(models.Model):
    """Where a field worker's phone said they were, reported by the browser while they work (only when
    they allow the browser to share it). The command centre's map shows each worker's latest report."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="position_reports",
                             verbose_name=_("user"))
    lon = models.FloatField(_("longitude"))
    lat = models.FloatField(_("latitude"))
    accuracy_m = models.PositiveIntegerField(_("accuracy (m)"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported at"), db_index=True)

    class Meta:
        verbose_name = _("position report")
        verbose_name_plural = _("position reports")
        indexes = [models.Index(fields=["user", "-reported_at"], name="position_user_latest")]
        constraints = [
            models.CheckConstraint(condition=models.Q(lon__gte=-180, lon__lte=180, lat__gte=-90, lat__lte=90),
                                   name="position_in_range"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.reported_at:%Y-%m-%d %H:%M}"
