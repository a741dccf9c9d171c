"""The closed-loop configuration of a seed profile: departments and their teams, the matter catalogue and
case policy, the duty lists of item admission (事项准入), the action grants and the routing rules — what a
district would configure in the admin, written through the same services (audited), so each seed's story
runs on the profile as shipped.

Applied by `profile_load` once the territory, the people and the demo logins exist, and again by
`load_profile --if-empty` on a loaded profile; idempotent, so a second run changes nothing:
- departments are found by key (the profile's own) or by name (one per department named in the
  catalogue, keyed `dept-01`, `dept-02` ... in the order the catalogue first names them, with its English
  name from `CATALOGUE_DEPARTMENTS_EN`); the profile's teams (`TeamSpec`) are found by name and get their
  demo members; a department with no team then gets a default team (`Team.DEFAULT_NAME`, no areas: the
  whole territory);
- the profile's action grants (`GrantSpec`) are created when missing (`cases.services.action_grant_save`);
- the shipped default catalogue is loaded when missing, and the scheme uses it (`SchemeCatalogue`);
- a missing duty list is created, and a list never changed (version 0) is filled through
  `duty_list_seed`, approved by the acting user or else the profile's district-wide demo login; then each
  of the profile's admissions (`AdmissionSpec`: a department pushes one of its matters down to a list)
  not yet on its list is applied for by the profile's department handler and approved the same way;
- routing rules are written only when the scheme has none (a deployment's own rules are never touched):
  first the profile's own (`RuleSpec`, through `cases.services.routing_rule_save`), then department
  matters to the department the catalogue names, village / community matters to the community level
  (the level just above the grids), everything else to the grid worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from gridgov.accounts.models import Department, Team
from gridgov.catalogue.admission import (
    admission_may_decide,
    duty_list_create,
    duty_list_entries_current,
    duty_list_seed,
)
from gridgov.catalogue.models import (
    AdmissionRequest,
    Catalogue,
    Category,
    DutyList,
    DutyListEntry,
    DutyTier,
    Matter,
    SchemeCatalogue,
)
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.catalogue.services import catalogue_load_default, scheme_catalogue_set
from gridgov.core.audit import audit_record
from gridgov.territory.models import Level, LevelScheme, Node

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
class TeamSpec:
    """A team of one of the profile's departments (`DepartmentSpec.key`), answering for the whole territory,
    with demo logins of the profile as members (Licheng's dispute group: the community officer and the grid
    leader; a police station's officers called to report in)."""

    department: str
    name: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class GrantSpec:
    """A scheme's own action grant (`cases.ActionGrant`): `action` to holders of the role `role` (a role key
    of the profile), or of any role of `role_category`, held at the level `level` (a level key; empty: any
    level) over the case's cell; or to another holder kind."""

    action: str
    holder: str = "ROLE"
    role: str = ""
    role_category: str = ""
    level: str = ""
    sees_reporter: bool = False


@dataclass(frozen=True)
class AdmissionSpec:
    """A department's application to push one of its matters (by code) down to a duty list (by key),
    approved by the grid office (事项准入). `department` is a department key or its name in the catalogue."""

    duty_list: str
    matter: str
    department: str
    reason: str


@dataclass(frozen=True)
class RuleSpec:
    """One of the profile's routing rules, placed before the generic ones. Conditions name a matter or a
    category by code, a cell by code (the rule holds in it and below); `department` is a key or a
    catalogue name."""

    name: str
    target: str
    matter: str = ""
    category: str = ""
    channel: str = ""
    report_level: str = ""
    node: str = ""
    department: str = ""


@dataclass(frozen=True)
class LoopSpec:
    departments: tuple[DepartmentSpec, ...] = ()
    duty_lists: tuple[DutyListSpec, ...] = ()
    # the reporter (besides the centre and the grid office) verifies the report-back (CasePolicy.reporter_verifies)
    reporter_verifies: bool = False
    teams: tuple[TeamSpec, ...] = ()
    grants: tuple[GrantSpec, ...] = ()
    admissions: tuple[AdmissionSpec, ...] = ()
    rules: tuple[RuleSpec, ...] = ()


# ------------------------------------------------------------------ builders shared by the profiles
def role_grants(role: str, *actions: str, sees_reporter: bool = False, level: str = "") -> tuple[GrantSpec, ...]:
    """The same actions granted to the holders of one role (Licheng's unit leaders register and dispatch
    what is reported in their unit, seeing who reported it)."""
    return tuple(GrantSpec(action=action, role=role, level=level, sees_reporter=sees_reporter) for action in actions)


def station_team(department: str, name: str, *logins: str) -> TeamSpec:
    """A police station's (or any department's) team of named demo logins, answering for the whole
    territory: called by a whistle, its members report in; handed a case, they accept it."""
    return TeamSpec(department=department, name=name, members=logins)


def police_to_dispute_group(*, group: str, category: str, name: str) -> RuleSpec:
    """What the police (110 channel) hand on of a category goes to the dispute-mediation group."""
    from gridgov.cases.models import AssigneeKind, Channel

    return RuleSpec(name=name, target=AssigneeKind.DEPARTMENT, channel=Channel.POLICE, category=category,
                    department=group)


# English names of the departments the shipped default catalogue names (its matters name them in Chinese)
CATALOGUE_DEPARTMENTS_EN = {
    "供电公司": "Power supply company",
    "公安分局": "Public security sub-bureau",
    "公安分局交通支队": "Traffic police detachment",
    "区交通局": "District transport bureau",
    "区人力社保局": "District human resources and social security bureau",
    "区住建委": "District housing and construction commission",
    "区体育局": "District sports bureau",
    "区农业农村局": "District agriculture and rural affairs bureau",
    "区卫生健康委": "District health commission",
    "区园林绿化局": "District landscaping and greening bureau",
    "区城市管理委员会": "District city management commission",
    "区城管执法局": "District city management enforcement bureau",
    "区市场监管局": "District market regulation bureau",
    "区应急管理局": "District emergency management bureau",
    "区残联": "District disabled persons' federation",
    "区民政局": "District civil affairs bureau",
    "区水务局": "District water bureau",
    "区消防救援支队": "District fire and rescue detachment",
    "区环卫中心": "District sanitation centre",
    "区疾控中心": "District centre for disease control",
    "区规划自然资源局": "District planning and natural resources bureau",
    "热力公司": "Heating company",
    "燃气公司": "Gas company",
    "街道办事处": "Street office",
    "街道综合执法队": "Street law enforcement team",
    "通信运营商": "Telecom operator",
}


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
    departments_named: int = 0
    members_added: int = 0
    grants_created: int = 0
    admissions_approved: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.catalogue_loaded or self.policy_created or self.departments_created or self.teams_created
                    or self.lists_created or any(self.entries_seeded.values()) or self.rules_created
                    or self.departments_named or self.members_added or self.grants_created
                    or self.admissions_approved)

    def lines(self) -> list[str]:
        seeded = ", ".join(f"{key} {n}" for key, n in self.entries_seeded.items() if n) or "none"
        return [f"  loop: {self.departments_created} departments and {self.teams_created} teams created, "
                f"{self.lists_created} duty lists created, matters admitted: {seeded}, "
                f"{self.admissions_approved} department matters admitted, {self.grants_created} action grants "
                f"and {self.rules_created} routing rules created"
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
            department = Department.objects.create(scheme=scheme, key=f"dept-{number:02d}", name_zh=name[:100],
                                                   name_en=CATALOGUE_DEPARTMENTS_EN.get(name, ""))
            taken.add(department.key)
            report.departments_created += 1
        elif not department.name_en and CATALOGUE_DEPARTMENTS_EN.get(name):
            department.name_en = CATALOGUE_DEPARTMENTS_EN[name]
            department.save(update_fields=["name_en"])
            report.departments_named += 1
        out[name] = department
    return out


def _department(scheme: LevelScheme, ref: str, departments: dict[str, Department]) -> Department:
    """A department of the scheme by its key, else by its name in the catalogue."""
    found = Department.objects.filter(scheme=scheme, key=ref).first() or departments.get(ref)
    if found is None:
        raise ValidationError({"department": f"no department {ref!r} in {scheme.key}"})
    return found


def _node(scheme: LevelScheme, code: str) -> Node:
    found = Node.objects.filter(scheme=scheme, code=code, valid_to__isnull=True).first()
    if found is None:
        raise ValidationError({"node": f"no current cell {code} in {scheme.key}"})
    return found


def _teams(scheme: LevelScheme, spec: LoopSpec, report: LoopReport) -> None:
    """The profile's named teams and their demo members (those loaded; a member is never removed)."""
    users = get_user_model().objects
    for team_spec in spec.teams:
        department = Department.objects.get(scheme=scheme, key=team_spec.department)
        team, made = Team.objects.get_or_create(department=department, name=team_spec.name)
        report.teams_created += made
        for user in users.filter(username__in=team_spec.members).exclude(teams=team):
            team.members.add(user)
            report.members_added += 1


def _grants(scheme: LevelScheme, spec: LoopSpec, report: LoopReport, *, actor) -> None:
    from gridgov.cases.models import ActionGrant
    from gridgov.cases.services.loop_settings import action_grant_save

    for grant in spec.grants:
        values = {"scheme": scheme, "action": grant.action, "holder": grant.holder,
                  "role": scheme.roles.get(key=grant.role) if grant.role else None,
                  "role_category": grant.role_category,
                  "level": scheme.levels.get(key=grant.level) if grant.level else None,
                  "sees_reporter": grant.sees_reporter}
        if ActionGrant.objects.filter(**values).exists():
            continue
        action_grant_save(ActionGrant(**values), actor=actor)
        report.grants_created += 1


def _admissions(profile, scheme: LevelScheme, spec: LoopSpec, catalogue: Catalogue,
                departments: dict[str, Department], report: LoopReport, *, actor) -> None:
    """Each department matter the profile pushes down to a list, applied for by a member of the department's
    team (the profile's department handler) and approved by the grid office, at setup (`duty_list_seed`: the
    audit log names the acting user, so the demo logins keep no audit history of their own and the profile
    still unloads); skipped once on the list."""
    applicant = get_user_model().objects.filter(username=f"{profile.key}_dept", is_active=True).first()
    for admission in spec.admissions:
        duty_list = DutyList.objects.get(scheme=scheme, key=admission.duty_list)
        matter = catalogue.matters.get(code=admission.matter)
        if duty_list_entries_current(duty_list=duty_list).filter(matter=matter).exists():
            continue
        report.admissions_approved += duty_list_seed(
            duty_list=duty_list, matters=[matter], actor=actor, approver=_approver(profile, actor),
            department=_department(scheme, admission.department, departments), applicant=applicant,
            reason=admission.reason)


def _routing_rules(scheme: LevelScheme, matters: list[Matter], departments: dict[str, Department],
                   report: LoopReport, *, spec: LoopSpec, catalogue: Catalogue, actor=None) -> None:
    from gridgov.cases.models import AssigneeKind, RoutingRule
    from gridgov.cases.services.routing_rules import routing_rule_save

    if RoutingRule.objects.filter(scheme=scheme).exists():
        return
    community = community_level(scheme)
    rules: list[RoutingRule] = []

    own = len(spec.rules)  # the profile's own rules take the first orders

    def add(**values) -> None:
        rules.append(RoutingRule(scheme=scheme, order=(own + len(rules) + 1) * RULE_STEP, **values))

    # the profile's own rules first, each written (and audited) as the admin writes one
    for number, rule in enumerate(spec.rules, start=1):
        routing_rule_save(None, {
            "scheme": scheme, "order": number * RULE_STEP, "name": rule.name, "target": rule.target,
            "matter": catalogue.matters.get(code=rule.matter) if rule.matter else None,
            "category": Category.objects.get(catalogue=catalogue, code=rule.category) if rule.category else None,
            "channel": rule.channel, "report_level": rule.report_level,
            "node": _node(scheme, rule.node) if rule.node else None,
            "department": _department(scheme, rule.department, departments) if rule.department else None,
        }, actor=actor)

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
    report.rules_created = own + len(rules)


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
    _teams(scheme, spec, report)
    lonely = list(Department.objects.filter(scheme=scheme, teams__isnull=True))
    Team.objects.bulk_create([Team(department=d, name=Team.DEFAULT_NAME) for d in lonely])
    report.teams_created += len(lonely)
    # the profile's demo department handler answers for every department's default team
    handler = get_user_model().objects.filter(username=f"{profile.key}_dept").first()
    if handler is not None:
        for team in Team.objects.filter(department__scheme=scheme, name=Team.DEFAULT_NAME).exclude(members=handler):
            team.members.add(handler)
    _grants(scheme, spec, report, actor=actor)
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
    _admissions(profile, scheme, spec, catalogue, departments, report, actor=actor)
    _routing_rules(scheme, matters, departments, report, spec=spec, catalogue=catalogue, actor=actor)
    if report.changed:
        audit_record(actor=actor, action="territory.profile_loop", target=scheme,
                     summary=f"profile {profile.key}: loop configuration", changes={"report": report.lines()})
    return report
