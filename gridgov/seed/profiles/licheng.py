"""Licheng district, Putian — 六微模式, Zhenhai street (seed 001).

区 → 镇街 → 村居 → 网格 → 单元, five levels, every grid and unit coded. 镇海街道 (9 communities, 2 villages,
99,806 residents, 1.33 万 people per km²) went from 30 to 260 grids and 4,565 units: a legal entity that
bears its own duty gets a dedicated (专属) grid or unit, the rest are comprehensive (综合); 607 comprehensive
and 176 dedicated unit leaders. 三长一员: unit leader, street (lane) leader, building leader and grid worker;
a party branch per grid and a party group per unit; community police, neighbourhood arbitrators (近邻评理员)
and lawyers per 村居. The rest of 荔城区 is loaded with its real codes on synthetic polygons.
"""

from __future__ import annotations

import datetime as dt
import random

from gridgov.accounts.models import RoleCategory
from gridgov.cases.models import AssigneeKind
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
from gridgov.seed.profiles.loop import (
    AdmissionSpec,
    DepartmentSpec,
    DutyListSpec,
    LoopSpec,
    RuleSpec,
    police_to_dispute_group,
    role_grants,
    station_team,
    tier,
)
from gridgov.seed.published import short_name
from gridgov.territory.models import AdminRank

DISTRICT = "350304"
STREET = "350304001000"  # 镇海街道
LOGIN_COMMUNITY = "350304001006"  # 镇海社区居委会 (东梅小区)
STREET_AREA_KM2 = 7.5  # 99,806 residents at 1.33 万 per km²
RESIDENTS = 99_806
GRIDS, DEDICATED_GRIDS = 260, 24
UNITS, DEDICATED_UNITS = 4_565, 176
COMPREHENSIVE_UNIT_LEADERS, DEDICATED_UNIT_LEADERS = 607, 176

ADMIN_SINCE = dt.date(2020, 1, 1)
GRIDS_SINCE = dt.date(2021, 4, 1)

LEVELS = (
    {"key": "district", "name_zh": "区", "name_en": "District", "admin_rank": AdminRank.COUNTY},
    {"key": "town", "name_zh": "镇街", "name_en": "Town / street", "admin_rank": AdminRank.TOWNSHIP},
    {"key": "village", "name_zh": "村居", "name_en": "Village / community", "admin_rank": AdminRank.VILLAGE},
    {"key": "grid", "name_zh": "网格", "name_en": "Grid", "is_grid": True, "code_digits": 3},
    {"key": "unit", "name_zh": "单元", "name_en": "Unit", "is_grid": True, "code_digits": 3},
)

TERMS = {
    "NODE_TYPE": (
        {"key": "comprehensive", "name_zh": "综合", "name_en": "Comprehensive"},
        {"key": "dedicated", "name_zh": "专属", "name_en": "Dedicated (legal entity)"},
    ),
}

ROLES = (
    RoleSpec("grid_centre_staff", "网格化服务管理中心工作人员", "Grid centre staff", RoleCategory.OFFICE,
             ("district", "town")),
    RoleSpec("village_party_secretary", "村（居）党组织书记", "Village / community party secretary",
             RoleCategory.PARTY, ("village",)),
    RoleSpec("grid_leader", "网格长", "Grid leader", RoleCategory.LEADER, ("grid",)),
    RoleSpec("grid_party_secretary", "网格党支部书记", "Grid party branch secretary", RoleCategory.PARTY, ("grid",)),
    RoleSpec("grid_worker", "网格员", "Grid worker", RoleCategory.GRID_WORKER, ("grid",),
             duties="单元巡查—源头发现—信息采集—任务分派—问题处置—核查反馈—跟踪问效", reveals_personal_data=True),
    RoleSpec("street_leader", "街巷长", "Street (lane) leader", RoleCategory.LEADER, ("grid",)),
    # the unit leader is the first line of his unit: what is reported there reaches him, and he handles it
    # (the manhole cover replaced within 15 minutes), so he counts as the unit's grid worker
    RoleSpec("unit_leader", "综合单元长", "Comprehensive unit leader", RoleCategory.GRID_WORKER, ("unit",),
             duties="《单元长工作职责手册》：信息采集汇集、平安巡防、便民服务", reveals_personal_data=True),
    RoleSpec("dedicated_unit_leader", "专属单元长", "Dedicated unit leader", RoleCategory.LEADER, ("unit",),
             duties="履行法人主体责任：安全生产、消防、信息报送"),
    RoleSpec("building_leader", "楼栋长", "Building leader", RoleCategory.LEADER, ("unit",)),
    RoleSpec("unit_party_group_leader", "单元党小组组长", "Unit party group leader", RoleCategory.PARTY, ("unit",)),
    RoleSpec("community_police", "社区民警", "Community police officer", RoleCategory.POLICE, ("village",),
             reveals_personal_data=True),
    RoleSpec("arbitrator", "近邻评理员", "Neighbourhood arbitrator", RoleCategory.LEGAL, ("village",),
             grants_scope=False),
    RoleSpec("legal_adviser", "法律顾问（律师）", "Legal adviser (lawyer)", RoleCategory.LEGAL, ("village",),
             grants_scope=False),
    RoleSpec("volunteer", "志愿者", "Volunteer", RoleCategory.VOLUNTEER, ("grid", "unit"), grants_scope=False),
)

LOGINS = (
    DemoLogin("licheng_admin", "区社会治理网格化服务中心值班员", "District grid centre operator",
              sees_everything=True, perms=OPERATOR_PERMS),
    DemoLogin("licheng_street", "镇海街道网格中心工作人员", "Zhenhai street grid centre staff"),
    DemoLogin("licheng_community", "镇海社区党委书记", "Zhenhai community party secretary"),
    DemoLogin("licheng_grid1", "镇海社区网格员", "Grid worker in Zhenhai community"),
    DemoLogin("licheng_unit", "镇海社区综合单元长", "Comprehensive unit leader in Zhenhai community"),
    DemoLogin("licheng_leader", "镇海社区网格长（社区干部）", "Grid leader (community cadre) in Zhenhai community"),
    DemoLogin("licheng_police", "镇海派出所社区民警", "Community police officer of Zhenhai police station"),
    department_handler_login("licheng"),
)

ESTATE_HEADS = "东西南北新金福荔梅兴龙凤英文阔埭长"
ESTATE_TAILS = "梅庚园苑华盛源安泰和丰景乐阳林"
ESTATE_KINDS = ("小区", "花园", "新村", "公寓", "大厦")
SHOP_HEADS = ("林记", "陈记", "黄记", "郑记", "福兴", "鑫源", "荔香", "永安", "莆仙", "兴化", "金凤", "吉祥", "顺发", "宏达")
SHOP_KINDS = ("五金店", "小吃店", "超市", "药店", "理发店", "茶行", "电动车行", "木雕工作室", "小作坊", "快递点",
              "餐馆", "便利店")
ENTITY_KINDS = ("中学", "小学", "幼儿园", "医院", "农贸市场", "商业综合体", "机关大院", "宾馆", "文创园", "客运站")


def _estate(rng: random.Random) -> str:
    return rng.choice(ESTATE_HEADS) + rng.choice(ESTATE_TAILS) + rng.choice(ESTATE_KINDS)


def build(b: Build) -> None:
    rng = b.rng
    b.say("planning 荔城区 and 镇海街道")
    root = b.plan_admin(DISTRICT, outline_polygon=outline(center=(119.04, 25.43), area_km2=270, aspect=1.3,
                                                          tilt_deg=25, rng=rng),
                        area_km2={STREET: STREET_AREA_KM2},
                        near={STREET: (119.01, 25.435), "350304002000": (119.00, 25.45),
                              "350304101000": (119.10, 25.46), "350304103000": (119.10, 25.36)})
    street = root.by_code()[STREET]
    communities = sorted(street.children, key=lambda p: p.code)

    n_grids = b.scaled(GRIDS)
    n_dedicated_grids = min(max(1, b.scaled(DEDICATED_GRIDS)), n_grids - 1)
    n_units = max(n_grids, b.scaled(UNITS))
    n_dedicated_units = max(n_dedicated_grids, b.scaled(DEDICATED_UNITS))
    n_comprehensive_grids = n_grids - n_dedicated_grids
    # dedicated units: about four in each dedicated grid, the rest are shops inside comprehensive grids
    in_dedicated = apportion(min(n_dedicated_units, 4 * n_dedicated_grids), [1.0] * n_dedicated_grids, minimum=1)
    in_comprehensive = apportion(n_dedicated_units - sum(in_dedicated), [1.0] * n_comprehensive_grids)
    comprehensive_units = apportion(n_units - n_dedicated_units, [rng.uniform(0.6, 1.4)
                                                                  for _ in range(n_comprehensive_grids)], minimum=1)
    residents = apportion(round(RESIDENTS * b.scale),
                          [rng.uniform(0.5, 1.5) for _ in range(sum(comprehensive_units))])
    residents_iter = iter(residents)

    grid_cells = []
    for i in range(n_comprehensive_grids):
        units = [Cell(weight=rng.uniform(0.7, 1.3), node_type="comprehensive",
                      attributes={"residents": next(residents_iter)}) for _ in range(comprehensive_units[i])]
        units += [Cell(weight=rng.uniform(0.15, 0.3), node_type="dedicated",
                       data={"shop": rng.choice(SHOP_HEADS) + rng.choice(SHOP_KINDS)})
                  for _ in range(in_comprehensive[i])]
        grid_cells.append(Cell(weight=sum(u.weight for u in units), node_type="comprehensive",
                               attributes={"residents": sum(u.attributes.get("residents", 0) for u in units)},
                               data={"units": units, "estates": [_estate(rng) for _ in range(rng.randint(1, 3))]}))
    for count in in_dedicated:
        entity = rng.choice(("荔城", "镇海", "梅峰", "英龙", "凤山", "文献", "兴化", "莆阳")) + rng.choice(ENTITY_KINDS)
        units = [Cell(weight=rng.uniform(0.5, 1.5), node_type="dedicated", data={"entity": entity})
                 for _ in range(count)]
        grid_cells.append(Cell(weight=sum(u.weight for u in units) * 1.5, node_type="dedicated",
                               attributes={"entity": entity}, data={"units": units, "entity": entity}))
    rng.shuffle(grid_cells)
    per_community = apportion(n_grids, [0.6 if c.name.endswith("村委会") else rng.uniform(0.8, 1.2)
                                        for c in communities], minimum=1)
    b.say(f"planning {n_grids} grids and {n_units} units in 镇海街道")
    cells_iter = iter(grid_cells)
    for community, count in zip(communities, per_community, strict=True):
        cells = [next(cells_iter) for _ in range(count)]
        if community.code == LOGIN_COMMUNITY and cells:
            cells[0].data["estates"] = ["东梅小区", *cells[0].data.get("estates", [])[1:]]
        for grid in community.divide("grid", cells, rng=rng):
            grid.divide("unit", grid.cell.data["units"], rng=rng)
    plan_finalize(root)

    b.say("creating the territory")
    parent_of = {child: parent for parent in root.walk() for child in parent.children}

    def grid_name(seq: int, plan: Plan) -> str:
        if plan.cell.node_type == "dedicated":
            return f"{plan.cell.data['entity']}专属网格"
        return f"{short_name(parent_of[plan].name)}第{seq}网格"

    building_numbers: dict[str, int] = {}

    def unit_name(seq: int, plan: Plan) -> str:
        grid = parent_of[plan]
        if plan.cell.node_type == "dedicated":
            if "entity" in plan.cell.data:
                return f"{plan.cell.data['entity']}第{seq}单元"
            return plan.cell.data["shop"]
        estates = grid.cell.data["estates"]
        estate = estates[(seq - 1) * len(estates) // max(1, len(grid.children))]
        building_numbers[estate] = building_numbers.get(estate, 0) + 1
        return f"{estate}{building_numbers[estate]}号楼"

    bar = b.bar(sum(1 for _ in root.walk()), "territory")
    b.create(root, valid_from={"district": ADMIN_SINCE, "town": ADMIN_SINCE, "village": ADMIN_SINCE,
                               "grid": GRIDS_SINCE, "unit": GRIDS_SINCE},
             names={"grid": grid_name, "unit": unit_name}, prepare=_prepare(parent_of), bar=bar)
    bar.close()
    _people(b, root, street, communities)


def _prepare(parent_of):
    def prepare(plan: Plan) -> None:
        if plan.level == "grid":
            plan.cell.attributes["party_branch"] = f"{plan.name}党支部"
        elif plan.level == "unit":
            plan.cell.attributes["party_group"] = f"{plan.name}党小组"
            if plan.cell.node_type == "dedicated":
                plan.cell.attributes["entity"] = plan.cell.data.get("entity") or plan.cell.data.get("shop")
    return prepare


def _people(b: Build, root: Plan, street: Plan, communities: list[Plan]) -> None:
    b.say("people in charge (三长一员)")
    rng = b.rng
    operator = b.person(organisation="荔城区社会治理网格化服务中心")
    b.assign(operator, root.node, "grid_centre_staff", is_public=False)
    street_staff = None
    for town in sorted(root.children, key=lambda p: p.code):
        staff = b.person(organisation=f"{town.name}网格化服务管理中心")
        b.assign(staff, town.node, "grid_centre_staff")
        if town is street:
            street_staff = staff
    grids = [g for c in communities for g in sorted(c.children, key=lambda p: p.code)]
    comprehensive_units = [u for g in grids for u in sorted(g.children, key=lambda p: p.code)
                           if u.cell.node_type == "comprehensive"]
    dedicated_units = [u for g in grids for u in sorted(g.children, key=lambda p: p.code)
                       if u.cell.node_type == "dedicated"]
    secretaries, first_worker, first_leader, officers, unit_leader_of = {}, {}, {}, {}, {}
    for community in communities:
        secretary = b.person(organisation=f"{community.name}党组织")
        b.assign(secretary, community.node, "village_party_secretary", start=GRIDS_SINCE)
        secretaries[community.code] = secretary
        officers[community.code] = b.person(organisation="莆田市公安局荔城分局镇海派出所")
        b.assign(officers[community.code], community.node, "community_police", start=GRIDS_SINCE)
        b.assign(b.person(organisation=rng.choice(["福建兴化律师事务所", "荔城区法律援助中心"])), community.node,
                 "legal_adviser", start=GRIDS_SINCE)
        for _ in range(3):
            b.assign(b.person(note=rng.choice(["乡贤", "老党员", "退休干部", "村聘干部"])), community.node,
                     "arbitrator", start=GRIDS_SINCE)
        # community cadres lead a few grids each (网格长), and a grid's branch secretary is often one of them
        own = sorted(community.children, key=lambda p: p.code)
        for start in range(0, len(own), 3):
            cadre = b.person(organisation=f"{community.name}", note="社区干部")
            first_leader.setdefault(community.code, cadre)
            for grid in own[start:start + 3]:
                b.assign(cadre, grid.node, "grid_leader")
                b.assign(cadre, grid.node, "grid_party_secretary")
        for grid in own:
            worker = b.person(note="专职网格员")
            b.assign(worker, grid.node, "grid_worker")
            first_worker.setdefault(community.code, worker)
            if grid.cell.node_type == "comprehensive":
                b.assign(b.person(note="党员街巷长"), grid.node, "street_leader")
            b.assign(b.person(note="志愿者"), grid.node, "volunteer")
    # 607 comprehensive unit leaders: shared out over the grids by their number of comprehensive units, each
    # leading a run of neighbouring units of one grid and their party groups; some are building leaders too
    # (单元长/楼栋长), and other buildings have a building leader of their own
    by_grid = [[u for u in sorted(g.children, key=lambda p: p.code) if u.cell.node_type == "comprehensive"]
               for g in grids]
    by_grid = [units for units in by_grid if units]
    n_leaders = min(len(comprehensive_units), b.scaled(COMPREHENSIVE_UNIT_LEADERS))
    for units, leaders in zip(by_grid, apportion(n_leaders, [float(len(u)) for u in by_grid], minimum=1),
                              strict=True):
        for run in apportion(len(units), [1.0] * max(1, min(leaders, len(units))), minimum=1):
            leader = b.person(note="党员单元长")
            for unit in units[:run]:
                b.assign(leader, unit.node, "unit_leader")
                b.assign(leader, unit.node, "unit_party_group_leader")
                unit_leader_of.setdefault(unit.code[:12], leader)
                roll = rng.random()
                if roll < 0.1:
                    b.assign(leader, unit.node, "building_leader")
                elif roll < 0.4:
                    b.assign(b.person(note="楼栋长"), unit.node, "building_leader")
            units = units[run:]
    # 176 dedicated unit leaders: the responsible person of each entity (one entity may hold several units)
    n_dedicated = min(len(dedicated_units), b.scaled(DEDICATED_UNIT_LEADERS))
    remaining = list(dedicated_units)
    for run in apportion(len(dedicated_units), [1.0] * n_dedicated, minimum=1):
        chunk, remaining = remaining[:run], remaining[run:]
        leader = b.person(organisation=chunk[0].cell.attributes.get("entity", ""), note="法人单位负责人")
        for unit in chunk:
            b.assign(leader, unit.node, "dedicated_unit_leader")

    login_community = LOGIN_COMMUNITY if LOGIN_COMMUNITY in first_worker else next(iter(first_worker))
    b.login("licheng_admin", operator)
    b.login("licheng_street", street_staff)
    b.login("licheng_community", secretaries[login_community])
    b.login("licheng_grid1", first_worker[login_community])
    b.login("licheng_unit", unit_leader_of.get(login_community) or next(iter(unit_leader_of.values())))
    b.login("licheng_leader", first_leader[login_community])  # leads the grid of licheng_grid1
    b.login("licheng_police", officers[login_community])
    b.login("licheng_dept", None)  # joins the departments' teams when the loop is applied


# the loop: one duty list of the grid workers; the town street's offices and the district's departments.
# The stories of seed 001: a unit leader receives what is reported in his unit, registers and dispatches it to
# himself and handles it (the sewage manhole cover: reported 12:16, replaced 12:31, confirmed 13:58 by the
# resident), the water bureau having pushed its manhole matter down to the grids; and the police hand a
# neighbours' dispute to the street's dispute group (纠纷流转群), where the community officer or the grid leader
# takes it in one click.
MANHOLE = "01002"  # 污水井盖
DISPUTES = "13"  # 矛盾纠纷
LOOP = LoopSpec(
    departments=(
        DepartmentSpec("eco-env", "莆田市荔城生态环境局", "Licheng Ecology and Environment Bureau"),
        DepartmentSpec("justice", "荔城区司法局", "Licheng Justice Bureau"),
        DepartmentSpec("petitions", "荔城区信访局", "Licheng Letters and Visits Bureau"),
        DepartmentSpec("police-zhenhai", "荔城公安分局镇海派出所", "Zhenhai police station"),
        DepartmentSpec("dispute", "镇海街道矛盾纠纷调处组", "Zhenhai street dispute mediation group"),
    ),
    duty_lists=(
        DutyListSpec("grid", "网格员职责清单", "Grid workers' duty list", DutyTier.GRID, True, tier(DutyTier.GRID)),
    ),
    # 核查反馈: the resident who reported confirms the fix (the manhole cover story), as well as the centre
    reporter_verifies=True,
    teams=(station_team("dispute", "纠纷流转群", "licheng_police", "licheng_leader"),),
    grants=role_grants("unit_leader", "register", "dispatch", sees_reporter=True),
    admissions=(AdmissionSpec("grid", MANHOLE, "区水务局", "井盖破损由单元长第一时间组织更换（单元巡查、源头发现）"),),
    rules=(
        RuleSpec("镇海街道井盖由单元长处置", AssigneeKind.GRID_WORKER, matter=MANHOLE, node=STREET),
        police_to_dispute_group(group="dispute", category=DISPUTES, name="警情纠纷转纠纷流转群"),
    ),
)


PROFILE = Profile(
    key="licheng",
    county=DISTRICT,
    name_zh="莆田市荔城区（六微模式·镇海街道）",
    name_en="Licheng district, Putian (six-micro model, Zhenhai street)",
    seed="001 荔城区“六微模式”",
    summary="荔城区 350304, 镇海街道 350304001: 260 grids, 4,565 units, comprehensive and dedicated, 三长一员",
    description=(
        "Seed 001. 区—镇街—村居—网格—单元: 镇海街道 has 260 grids and 4,565 units (comprehensive and dedicated: "
        "a legal entity bearing its own duty gets a dedicated grid or unit), 607 comprehensive and 176 dedicated "
        "unit leaders, 99,806 residents on 7.5 km². 三长一员, a party branch per grid and a party group per unit. "
        "Real division codes; synthetic polygons and people."
    ),
    levels=LEVELS,
    terms=TERMS,
    roles=ROLES,
    logins=LOGINS,
    build=build,
    loop=LOOP,
    surname_bias={"林": 6.0, "陈": 4.0, "黄": 4.0, "郑": 4.0, "吴": 2.0, "王": 1.0, "李": 1.2, "翁": 1.0, "蔡": 2.0,
                  "方": 2.5, "许": 2.0, "朱": 1.5, "卓": 1.0, "韩": 1.5},
)
