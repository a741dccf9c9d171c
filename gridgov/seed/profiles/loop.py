"""The closed-loop configuration of a seed profile: departments and their teams, the matter catalogue and
case policy, the duty lists of item admission (事项准入) and the routing rules.

Applied by `profile_load` once the territory, the people and the demo logins exist, and again by
`load_profile --if-empty` on a loaded profile; idempotent, so a second run changes nothing:
- departments are found by key (the profile's own) or by name (one per department named in the
  catalogue, keyed `dept-01`, `dept-02` ... in the order the catalogue first names them); each gets a
  default team (no areas: the whole territory) when it has none;
- the shipped default catalogue is loaded when missing, and the scheme uses it (`SchemeCatalogue`);
- a missing duty list is created, and a list never changed (version 0) is filled through
  `duty_list_seed`, approved by the acting user or else the profile's district-wide demo login;
- routing rules are written only when the scheme has none (a deployment's own rules are never touched):
  department matters to the department the catalogue names, village / community matters to the
  community level (the level just above the grids), everything else to the grid worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from gridgov.accounts.models import Department, Team
from gridgov.catalogue.admission import admission_may_decide, duty_list_create, duty_list_seed
from gridgov.catalogue.models import (
    AdmissionRequest,
    Catalogue,
    DutyList,
    DutyListEntry,
    DutyTier,
    Matter,
    SchemeCatalogue,
)
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.catalogue.services import catalogue_load_default, scheme_catalogue_set
from gridgov.core.audit import audit_record
from gridgov.territory.models import Level, LevelScheme

DEFAULT_TEAM = "默认组"
RULE_STEP = 10  # gaps between rule orders leave room for a deployment's own rules


# =========================================================================== declarations
@dataclass(frozen=True)
class DepartmentSpec:
    """A department of the profile beyond those the catalogue names."""

    key: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class DutyListSpec:
    """A duty list and the rule choosing its first matters from the default catalogue."""

    key: str
    name_zh: str
    name_en: str
    duty_tier: str
    admits_to_grid: bool
    matters: Callable[[Matter], bool]


@dataclass(frozen=True)
class LoopSpec:
    departments: tuple[DepartmentSpec, ...] = ()
    duty_lists: tuple[DutyListSpec, ...] = ()
    # the reporter (besides the centre and the grid office) verifies the report-back (CasePolicy.reporter_verifies)
    reporter_verifies: bool = False


def tier(*tiers: str) -> Callable[[Matter], bool]:
    """Matters of the given duty tiers."""
    return lambda matter: matter.duty_tier in tiers


def in_categories(*names: str) -> Callable[[Matter], bool]:
    """Matters of the categories with these Chinese names."""
    return lambda matter: matter.category.name_zh in names


def all_of(*rules: Callable[[Matter], bool]) -> Callable[[Matter], bool]:
    return lambda matter: all(rule(matter) for rule in rules)


def any_of(*rules: Callable[[Matter], bool]) -> Callable[[Matter], bool]:
    return lambda matter: any(rule(matter) for rule in rules)


def named(*names: str) -> Callable[[Matter], bool]:
    return lambda matter: matter.name_zh in names


def negate(rule: Callable[[Matter], bool]) -> Callable[[Matter], bool]:
    return lambda matter: not rule(matter)


# =========================================================================== applying
@dataclass
class LoopReport:
    catalogue_loaded: bool = False
    policy_created: bool = False
    departments_created: int = 0
    teams_created: int = 0
    lists_created: int = 0
    entries_seeded: dict[str, int] = field(default_factory=dict)
    rules_created: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.catalogue_loaded or self.policy_created or self.departments_created or self.teams_created
                    or self.lists_created or any(self.entries_seeded.values()) or self.rules_created)

    def lines(self) -> list[str]:
        seeded = ", ".join(f"{key} {n}" for key, n in self.entries_seeded.items() if n) or "none"
        return [f"  loop: {self.departments_created} departments and {self.teams_created} teams created, "
                f"{self.lists_created} duty lists created, matters admitted: {seeded}, "
                f"{self.rules_created} routing rules created"
                + (", default catalogue loaded" if self.catalogue_loaded else "")
                + (", case policy created" if self.policy_created else "")]


def community_level(scheme: LevelScheme) -> Level | None:
    """The level just above the first grid level (村/社区): who handles village / community matters."""
    levels = list(scheme.levels.order_by("depth"))
    for i, level in enumerate(levels):
        if level.is_grid:
            return levels[i - 1] if i > 0 else None
    return None


def profile_loop_clear(scheme: LevelScheme) -> None:
    """Delete the scheme's duty lists with their entries and requests (which keep each other: entries
    protect their requests, requests the users who made them), before its demo logins go."""
    lists = DutyList.objects.filter(scheme=scheme)
    DutyListEntry.objects.filter(duty_list__in=lists).delete()
    AdmissionRequest.objects.filter(duty_list__in=lists).delete()
    lists.delete()


def _approver(profile, actor):
    if admission_may_decide(actor):
        return actor
    usernames = [login.username for login in profile.logins if login.sees_everything]
    users = {u.username: u for u in get_user_model().objects.filter(username__in=usernames, is_active=True)}
    for username in usernames:
        if username in users:
            return users[username]
    raise ValidationError({"actor": f"no user may approve the initial duty lists of {profile.key}: run as a "
                                    "superuser, or keep the profile's district-wide demo login"})


def _catalogue_departments(scheme: LevelScheme, catalogue: Catalogue, report: LoopReport) -> dict[str, Department]:
    """One department per department name of the catalogue, found by name, new ones keyed dept-NN."""
    names: list[str] = []
    for name in (catalogue.matters.exclude(department="").order_by("code").values_list("department", flat=True)):
        if name not in names:
            names.append(name)
    stored = list(Department.objects.filter(scheme=scheme))
    by_name: dict[str, Department] = {}
    for department in sorted(stored, key=lambda d: d.key):
        by_name.setdefault(department.name_zh, department)
    taken = {d.key for d in stored}
    number = 0
    out: dict[str, Department] = {}
    for name in names:
        department = by_name.get(name)
        if department is None:
            number += 1
            while f"dept-{number:02d}" in taken:
                number += 1
            department = Department.objects.create(scheme=scheme, key=f"dept-{number:02d}", name_zh=name[:100])
            taken.add(department.key)
            report.departments_created += 1
        out[name] = department
    return out


def _routing_rules(scheme: LevelScheme, matters: list[Matter], departments: dict[str, Department],
                   report: LoopReport) -> None:
    from gridgov.cases.models import AssigneeKind, RoutingRule

    if RoutingRule.objects.filter(scheme=scheme).exists():
        return
    community = community_level(scheme)
    rules: list[RoutingRule] = []

    def add(**values) -> None:
        rules.append(RoutingRule(scheme=scheme, order=(len(rules) + 1) * RULE_STEP, **values))

    for matter in matters:
        if matter.duty_tier == DutyTier.DEPARTMENT and matter.department in departments:
            department = departments[matter.department]
            add(name=f"{matter.code} {matter.name_zh} → {department.name_zh}"[:100], matter=matter,
                target=AssigneeKind.DEPARTMENT, department=department)
    if community is not None:
        for matter in matters:
            if matter.duty_tier == DutyTier.COMMUNITY:
                add(name=f"{matter.code} {matter.name_zh} → {community.name_zh}"[:100], matter=matter,
                    target=AssigneeKind.COMMUNITY, community_level=community)
    add(name="其余事项 → 网格员", target=AssigneeKind.GRID_WORKER)
    RoutingRule.objects.bulk_create(rules)
    report.rules_created = len(rules)


@transaction.atomic
def profile_loop_apply(profile, *, actor=None) -> LoopReport:
    """Give a loaded profile its loop configuration (see the module's docstring); idempotent."""
    from gridgov.cases.models import CasePolicy

    report = LoopReport()
    scheme = LevelScheme.objects.get(key=profile.key)
    spec: LoopSpec = profile.loop or LoopSpec()
    # the catalogue the scheme uses, and its policy
    if not Catalogue.objects.filter(key="default").exists():
        catalogue_load_default(actor=actor)
        report.catalogue_loaded = True
    if not SchemeCatalogue.objects.filter(scheme=scheme).exists():
        scheme_catalogue_set(scheme=scheme, catalogue=Catalogue.objects.get(key="default"), actor=actor)
    policy, created = CasePolicy.objects.get_or_create(scheme=scheme, defaults={
        "reporter_verifies": spec.reporter_verifies})
    report.policy_created = created
    if created is False and policy.reporter_verifies != spec.reporter_verifies:
        policy.reporter_verifies = spec.reporter_verifies
        policy.save(update_fields=["reporter_verifies"])
    catalogue = scheme_catalogue(scheme)
    # departments, each with a default team
    for dept in spec.departments:
        _department, made = Department.objects.get_or_create(scheme=scheme, key=dept.key, defaults={
            "name_zh": dept.name_zh, "name_en": dept.name_en})
        report.departments_created += made
    departments = _catalogue_departments(scheme, catalogue, report)
    lonely = list(Department.objects.filter(scheme=scheme, teams__isnull=True))
    Team.objects.bulk_create([Team(department=d, name=DEFAULT_TEAM) for d in lonely])
    report.teams_created = len(lonely)
    # the profile's demo department handler answers for every department's default team
    handler = get_user_model().objects.filter(username=f"{profile.key}_dept").first()
    if handler is not None:
        for team in Team.objects.filter(department__scheme=scheme, name=DEFAULT_TEAM).exclude(members=handler):
            team.members.add(handler)
    # duty lists
    matters = list(catalogue.matters.filter(active=True).select_related("category").order_by("code"))
    approver = None
    for order, list_spec in enumerate(spec.duty_lists, start=1):
        duty_list = DutyList.objects.filter(scheme=scheme, key=list_spec.key).first()
        if duty_list is None:
            duty_list = duty_list_create(scheme=scheme, key=list_spec.key, name_zh=list_spec.name_zh,
                                         name_en=list_spec.name_en, duty_tier=list_spec.duty_tier,
                                         admits_to_grid=list_spec.admits_to_grid, order=order, actor=actor)
            report.lists_created += 1
        if duty_list.version == 0:
            approver = approver or _approver(profile, actor)
            chosen = [m for m in matters if list_spec.matters(m)]
            report.entries_seeded[list_spec.key] = duty_list_seed(duty_list=duty_list, matters=chosen,
                                                                  actor=actor, approver=approver)
    _routing_rules(scheme, matters, departments, report)
    if report.changed:
        audit_record(actor=actor, action="territory.profile_loop", target=scheme,
                     summary=f"profile {profile.key}: loop configuration", changes={"report": report.lines()})
    return report
