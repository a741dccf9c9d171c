"""Xiangcheng district, Xiangyang — 多网合一 standard grids (seed 002).

The seed describes the whole city; its pilot — real-time location and dispatch of 477 grid workers on a
visual party-building platform — was in 襄城区 (420602), so that is the district loaded (not 樊城区).
区 → 街道（乡镇）→ 社区（村）→ 网格: one standard grid per estate or block merges the grids of the
organisation, politics-and-law, civil-affairs and city-management departments (多网合一), 477 grids with
one full-time grid worker each. History is loaded as it happened: grids from 2019; on 2020-06-30 some
oversized communities are split into the communities of today (the predecessor's code is synthetic, its
successors carry the real codes); on 2020-12-31 the 56 插花地 estates — administered by one community but
lying inside another — are handed over with `node_move`. 双报到: serving party members registered with
their home grid's party branch and their work unit; 一居一警; lawyers and legal workers in the grids;
street grid centres as hubs; owners' committees and three-party consultation platforms in estates.
"""

from __future__ import annotations

import datetime as dt
import random

import shapely

from gridgov.accounts.models import RoleCategory
from gridgov.catalogue.models import DutyTier
from gridgov.seed.profiles.base import (
    OPERATOR_PERMS,
    Build,
    Cell,
    DemoLogin,
    Plan,
    Profile,
    RoleSpec,
    apportion,
    department_handler_login,
    outline,
    plan_finalize,
)
from gridgov.seed.profiles.loop import DepartmentSpec, DutyListSpec, LoopSpec, tier
from gridgov.territory import geometry as geo
from gridgov.territory import services
from gridgov.territory.models import AdminRank, Node

DISTRICT = "420602"
LOGIN_STREET = "420602004000"  # 檀溪街道
GRIDS = 477  # one full-time grid worker each: the pilot's 477
SPLITS = 8  # oversized communities split (the city adjusted 38)
ENCLAVES = 56  # 插花地 estates handed over
DUAL_REGISTERED_PER_GRID = 4
WORK_UNITS = ("襄阳市教育局", "襄阳市人民医院", "襄城区人民政府办公室", "襄阳市税务局", "襄阳市自然资源和规划局",
              "襄城区住建局", "襄阳市第四中学", "国网襄阳供电公司", "襄阳市城市运行管理中心", "襄城区民政局")

ADMIN_SINCE = dt.date(2018, 1, 1)
GRIDS_SINCE = dt.date(2019, 1, 1)
SPLIT_DATE = dt.date(2020, 6, 30)
MOVE_DATE = dt.date(2020, 12, 31)
PEOPLE_SINCE = dt.date(2021, 1, 1)

LEVELS = (
    {"key": "district", "name_zh": "区", "name_en": "District", "admin_rank": AdminRank.COUNTY},
    {"key": "street", "name_zh": "街道（乡镇）", "name_en": "Street / town", "admin_rank": AdminRank.TOWNSHIP},
    {"key": "community", "name_zh": "社区（村）", "name_en": "Community / village", "admin_rank": AdminRank.VILLAGE},
    {"key": "grid", "name_zh": "网格（小区）", "name_en": "Grid (estate)", "is_grid": True, "code_digits": 3},
)

TERMS = {
    "NODE_TYPE": (
        {"key": "estate", "name_zh": "住宅小区", "name_en": "Residential estate"},
        {"key": "open_block", "name_zh": "开放式片区", "name_en": "Open block"},
        {"key": "commercial", "name_zh": "商务楼宇", "name_en": "Commercial buildings"},
        {"key": "rural", "name_zh": "村湾", "name_en": "Rural hamlets"},
    ),
}

ROLES = (
    RoleSpec("grid_centre_staff", "网格化管理中心工作人员", "Grid management centre staff", RoleCategory.OFFICE,
             ("district", "street"), duties="街道网格中心：受理、派单、调度网格员"),
    RoleSpec("community_party_secretary", "社区（村）党组织书记", "Community party secretary", RoleCategory.PARTY,
             ("community",)),
    RoleSpec("liaison_cadre", "包联干部", "Street cadre linked to the community", RoleCategory.LEADER,
             ("community",), duties="街道干部包社区联网格"),
    RoleSpec("grid_worker", "专职网格员", "Full-time grid worker", RoleCategory.GRID_WORKER, ("grid",),
             duties="一专多能：信息采集、巡查上报、矛盾调解、代办服务；实时定位、实时调度", reveals_personal_data=True),
    RoleSpec("grid_party_secretary", "“双报到”党支部书记", "Dual-registration party branch secretary",
             RoleCategory.PARTY, ("grid",)),
    RoleSpec("dual_registered_member", "“双报到”党员", "Dual-registered party member", RoleCategory.PARTY, ("grid",),
             grants_scope=False, duties="在职党员到居住网格（小区）报到：联户走访、认领需求"),
    RoleSpec("community_police", "社区民警（一居一警）", "Community police officer", RoleCategory.POLICE,
             ("community",), reveals_personal_data=True),
    RoleSpec("lawyer", "执业律师", "Practising lawyer", RoleCategory.LEGAL, ("community",), grants_scope=False),
    RoleSpec("legal_worker", "法律服务工作者", "Legal service worker", RoleCategory.LEGAL, ("community",),
             grants_scope=False),
    RoleSpec("owners_committee_director", "业委会（自管委）主任", "Owners' committee director", RoleCategory.OTHER,
             ("grid",), grants_scope=False),
    RoleSpec("volunteer_team_leader", "志愿服务团队负责人", "Volunteer team leader", RoleCategory.VOLUNTEER,
             ("community",), grants_scope=False),
)

LOGINS = (
    DemoLogin("xiangyang_admin", "区网格化管理中心值班员", "District grid centre operator", sees_everything=True,
              perms=OPERATOR_PERMS),
    DemoLogin("xiangyang_street", "檀溪街道网格中心调度员", "Tanxi street grid centre dispatcher"),
    DemoLogin("xiangyang_community", "社区党组织书记", "Community party secretary"),
    DemoLogin("xiangyang_grid1", "专职网格员", "Full-time grid worker"),
    department_handler_login("xiangyang"),
)


def _urban(plan: Plan) -> bool:
    return plan.name.endswith("居委会")


PLACE_HEADS = "锦绣阳光汉江隆中檀溪鼓楼荆州真武山水岘山铁佛长虹胜利凤雏古城庞公南湖"
PLACE_KINDS = {"estate": ("花园", "小区", "家园", "苑", "新村", "华府"), "open_block": ("街片区", "巷片区", "路片区"),
               "commercial": ("大厦", "广场", "商务楼"), "rural": ("湾", "岗", "庄")}


def _place(rng, form: str) -> str:
    return "".join(rng.sample(PLACE_HEADS, 2)) + rng.choice(PLACE_KINDS[form])


def build(b: Build) -> None:
    rng = b.rng
    b.say("planning 襄城区")
    near = {"420602001000": (112.135, 32.0), "420602002000": (112.145, 32.015), "420602003000": (112.17, 32.02),
            LOGIN_STREET: (112.115, 32.02), "420602005000": (112.07, 32.0), "420602006000": (112.2, 31.95),
            "420602100000": (112.3, 31.88), "420602101000": (112.0, 31.9), "420602200000": (112.1, 31.93)}
    root = b.plan_admin(DISTRICT, outline_polygon=outline(center=(112.12, 31.95), area_km2=616, aspect=1.15,
                                                          tilt_deg=-20, rng=rng), near=near)
    communities = sorted(root.find("community"), key=lambda p: p.code)
    n_grids = b.scaled(GRIDS)
    per_community = apportion(n_grids, [(1.6 if _urban(c) else 0.7) * rng.uniform(0.7, 1.3) for c in communities],
                              minimum=1)
    for community, count in zip(communities, per_community, strict=True):
        if not count:
            continue
        forms = (["estate"] * 6 + ["open_block"] * 3 + ["commercial"]) if _urban(community) else ["rural"]
        cells = []
        for _ in range(count):
            form = rng.choice(forms)
            households = rng.randint(250, 600) if form != "commercial" else rng.randint(20, 80)
            cells.append(Cell(weight=households * rng.uniform(0.6, 1.4) * (3 if form == "rural" else 1),
                              node_type=form, attributes={"households": households}, data={"place": _place(rng, form)}))
        community.divide("grid", cells, rng=rng)
    splits = _choose_splits(root, b.scaled(SPLITS))
    plan_finalize(root)
    predecessors = [_predecessor(street, a, bb) for street, a, bb in splits]
    enclaves = _choose_enclaves(root, {p for _s, a, bb in splits for p in (a, bb)}, b.scaled(ENCLAVES))

    b.say(f"creating the territory as of {GRIDS_SINCE}: {n_grids} grids, {len(predecessors)} oversized communities")

    def grid_name(seq: int, plan: Plan) -> str:
        return f"{plan.cell.data['place']}网格"

    bar = b.bar(sum(1 for _ in root.walk()), "territory")
    b.create(root, valid_from={"district": ADMIN_SINCE, "street": ADMIN_SINCE, "community": ADMIN_SINCE,
                               "grid": GRIDS_SINCE},
             names={"grid": grid_name}, bar=bar, outside_parent=lambda plan: "home" in plan.cell.data)
    bar.close()

    b.say(f"{SPLIT_DATE}: splitting {len(predecessors)} oversized communities")
    for predecessor, parts in predecessors:
        successors = services.node_split(
            predecessor.node, effective_date=SPLIT_DATE, actor=b.actor, reason="调整优化超大社区",
            parts=[{"name": part.name, "code": part.code, "geometry": geo.to_geojson(part.poly), "attributes": {}}
                   for part in parts])
        for part, node in zip(parts, successors, strict=True):
            part.node = node
    b.say(f"{MOVE_DATE}: handing over {len(enclaves)} 插花地 estates")
    for grid, home in enclaves:
        grid.node = services.node_move(grid.node, new_parent=home.node, effective_date=MOVE_DATE, actor=b.actor,
                                       reason="插花地小区移交")
    _people(b, root)


def _choose_splits(root: Plan, count: int) -> list[tuple[Plan, Plan, Plan]]:
    """Pairs of neighbouring urban communities of one street, each pair planned as one oversized
    community before the split."""
    chosen, used = [], set()
    for street in sorted(root.children, key=lambda p: p.code):
        kids = [c for c in sorted(street.children, key=lambda p: p.code) if _urban(c) and c.children]
        for a in kids:
            for other in kids:
                if len(chosen) >= count:
                    return chosen
                if a is other or a.code in used or other.code in used:
                    continue
                if a.poly.intersection(other.poly).length > 1e-4:  # a shared edge of more than ~10 m
                    chosen.append((street, a, other))
                    used.update({a.code, other.code})
    return chosen


def _predecessor(street: Plan, a: Plan, b: Plan) -> tuple[Plan, list[Plan]]:
    """Replace communities a and b under `street` by the oversized community they were split from; its grids
    are theirs. Its code is synthetic (a free village number of the street): the published divisions only
    know the communities of today."""
    used = {c.code[9:] for c in street.children}
    number = next(n for n in range(199, 100, -1) if f"{n:03d}" not in used)
    predecessor = Plan(level="community", poly=shapely.coverage_union_all([a.poly, b.poly]), name=a.name,
                       code=f"{street.code[:9]}{number:03d}",
                       cell=Cell(attributes={"oversized": True, "code_is_synthetic": True,
                                             "split_into": [a.code, b.code]}))
    predecessor.children = a.children + b.children
    street.children = [c for c in street.children if c is not a and c is not b] + [predecessor]
    return predecessor, [a, b]


def _choose_enclaves(root: Plan, excluded: set[Plan], count: int) -> list[tuple[Plan, Plan]]:
    """Grids on the edge of their community, given (before the handover) to a neighbouring community that
    administered them: returns (grid, the community it lies in). Up to three per community."""
    urban = [c for street in sorted(root.children, key=lambda p: p.code) for c in street.children
             if c not in excluded and _urban(c) and not c.cell.attributes.get("oversized")]
    chosen = []
    for _round in range(3):
        for home in sorted(urban, key=lambda p: p.code):
            own = [g for g in home.children if "home" not in g.cell.data]
            for grid in sorted(own, key=lambda p: -p.poly.area):
                neighbour = next((c for c in urban if c is not home and grid.poly.intersection(c.poly).length > 1e-4),
                                 None)
                if neighbour is None:
                    continue
                home.children.remove(grid)
                neighbour.children.append(grid)
                grid.cell.data["home"] = home
                chosen.append((grid, home))
                if len(chosen) >= count:
                    return chosen
                break
    return chosen


def _people(b: Build, root: Plan) -> None:
    b.say("people in charge (双报到, 一居一警, lawyers)")
    rng = b.rng
    operator = b.person(organisation="襄城区网格化管理中心")
    b.assign(operator, root.node, "grid_centre_staff", is_public=False)
    street_staff, street_names = {}, {}
    for street in sorted(root.children, key=lambda p: p.code):
        street_names[street.code[:9]] = street.name
        for _ in range(3):
            staff = b.person(organisation=f"{street.name}网格中心")
            b.assign(staff, street.node, "grid_centre_staff", start=PEOPLE_SINCE)
            street_staff.setdefault(street.code, staff)
    # the communities of today: the split ones' successors are not in the plan tree
    communities = list(Node.objects.filter(scheme=b.scheme, level=b.levels["community"], valid_to__isnull=True)
                       .select_related("level").order_by("code"))
    secretaries, first_worker, moved_worker = {}, {}, {}
    # the 插花地 estates handed over to the community they lie in (Xiangyang's story: a case there reaches
    # the new community's worker, dispatched by the street centre)
    moved = {p.node.pk for p in root.walk() if "home" in p.cell.data and p.node is not None}
    lawyer = legal_worker = None
    for i, node in enumerate(communities):
        secretary = b.person(organisation=f"{node.name}党组织")
        b.assign(secretary, node, "community_party_secretary", start=PEOPLE_SINCE)
        secretaries[node.code] = secretary
        b.assign(b.person(organisation=f"{street_names[node.code[:9]]}办事处"), node, "liaison_cadre",
                 start=PEOPLE_SINCE)
        if node.name.endswith("居委会"):  # 一居一警: one officer per residents' committee
            b.assign(b.person(organisation="襄阳市公安局襄城分局"), node, "community_police", start=PEOPLE_SINCE)
        b.assign(b.person(note="志愿服务团队"), node, "volunteer_team_leader", start=PEOPLE_SINCE)
        if i % 3 == 0:
            lawyer = b.person(organisation=rng.choice(["湖北隆中律师事务所", "湖北襄城律师事务所", "襄阳某律师事务所"]))
        if i % 2 == 0:
            legal_worker = b.person(organisation="襄城区司法局法律服务所")
        b.assign(lawyer, node, "lawyer", start=PEOPLE_SINCE)
        b.assign(legal_worker, node, "legal_worker", start=PEOPLE_SINCE)
    for community in communities:
        grids = community.children.current().select_related("level", "node_type").order_by("code")
        for grid in grids:
            worker = b.person(note="专职网格员（四岗十八级）")
            b.assign(worker, grid, "grid_worker", start=GRIDS_SINCE)
            first_worker.setdefault(community.code, worker)
            if grid.pk in moved:
                moved_worker.setdefault(community.code, worker)
            b.assign(b.person(note="在职党员"), grid, "grid_party_secretary", start=PEOPLE_SINCE)
            for _ in range(DUAL_REGISTERED_PER_GRID):
                b.assign(b.person(organisation=rng.choice(WORK_UNITS), note="在职党员“双报到”"), grid,
                         "dual_registered_member", start=PEOPLE_SINCE)
            # seven estates in ten have an owners' committee: a record with behaviour (its director's
            # assignment), not a flag typed into the cell
            estate = grid.node_type_id is not None and grid.node_type.key == "estate"
            if estate and random.Random(f"committee:{grid.code}").random() < 0.7:
                b.assign(b.person(note="业主"), grid, "owners_committee_director", start=PEOPLE_SINCE)

    # the grid login is the worker of a moved estate (in 檀溪街道 when one was moved there)
    login_community = (next((c for c in moved_worker if c.startswith(LOGIN_STREET[:9])), None)
                       or next(iter(moved_worker), None)
                       or next((c for c in first_worker if c.startswith(LOGIN_STREET[:9])), next(iter(first_worker))))
    b.login("xiangyang_admin", operator)
    b.login("xiangyang_street", street_staff[login_community[:9] + "000"])
    b.login("xiangyang_community", secretaries[login_community])
    b.login("xiangyang_grid1", moved_worker.get(login_community) or first_worker[login_community])
    b.login("xiangyang_dept", None)  # joins the departments' teams when the loop is applied


# the loop: one duty list of the grid workers (多网合一: the other networks' matters stay with their departments)
LOOP = LoopSpec(
    departments=(
        DepartmentSpec("eco-env", "襄阳市襄城生态环境分局", "Xiangcheng Ecology and Environment Bureau"),
        DepartmentSpec("justice", "襄城区司法局", "Xiangcheng Justice Bureau"),
        DepartmentSpec("petitions", "襄城区信访局", "Xiangcheng Letters and Visits Bureau"),
        DepartmentSpec("police-gucheng", "襄城公安分局古城派出所", "Gucheng police station"),
    ),
    duty_lists=(
        DutyListSpec("grid", "网格员职责清单", "Grid workers' duty list", DutyTier.GRID, True, tier(DutyTier.GRID)),
    ),
)


PROFILE = Profile(
    key="xiangyang",
    county=DISTRICT,
    name_zh="襄阳市襄城区（多网合一·网格化管理试点）",
    name_en="Xiangcheng district, Xiangyang (one standard grid, pilot)",
    seed="002 襄阳市党建引领网格管理",
    summary="襄城区 420602: 477 多网合一 grids and workers; oversized communities split, 56 插花地 estates moved",
    description=(
        "Seed 002, its pilot district (襄城区: real-time location and dispatch of 477 grid workers). "
        "区—街道—社区—网格（小区）: standard grids merging the organisation, politics-and-law, civil-affairs and "
        "city-management grids; history: oversized communities split on 2020-06-30 (the predecessors' codes are "
        "synthetic), 56 插花地 estates handed over on 2020-12-31. 双报到 party members, 一居一警, lawyers. "
        "Real division codes; synthetic polygons and people."
    ),
    levels=LEVELS,
    terms=TERMS,
    roles=ROLES,
    logins=LOGINS,
    build=build,
    loop=LOOP,
    surname_bias={"王": 1.5, "李": 1.3, "张": 1.3, "刘": 1.5, "陈": 1.2, "杨": 1.2, "周": 1.5, "胡": 2.0, "黄": 1.3,
                  "吴": 1.2, "徐": 1.2, "余": 2.0, "程": 1.5, "袁": 1.5, "万": 2.0, "聂": 1.0},
)
