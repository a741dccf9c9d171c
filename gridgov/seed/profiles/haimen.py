"""Haimen district, Nantong — 精网微格 (seed 000).

区镇 → 村（社区）→ 网格 → 微网格 → 户: 969 comprehensive grids over the whole district, cut by the 50–100
household standard into 5,783 micro-grids. One party branch per grid, a 宅上党小组 per micro-grid.
一长三员 with 三个一肩挑: the village (community) party secretary is chief grid leader, the grid branch
secretary is grid leader, the 宅上党小组 leader is micro-grid leader; full-time and part-time grid workers
(information officers) and a grid guide per grid; one micro-grid worker per micro-grid; party members
who each look after some households (包户). Police in grids "1+N": 122 community officers each linked to
several grids, 324 grid auxiliaries (one per village). Lawyers, mediators and volunteers come down to the
grids ("三官一律一员"). Each grid has a service station (一网格一支部一驿站).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

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
from gridgov.seed.profiles.loop import DepartmentSpec, DutyListSpec, LoopSpec, station_team, tier
from gridgov.seed.published import short_name
from gridgov.territory.models import AdminRank

DISTRICT = "320614"
LOGIN_TOWN = "320614104000"  # 悦来镇
GRIDS, MICROGRIDS = 969, 5_783
HOUSEHOLDS_PER_MICROGRID = (50, 100)
POLICE_OFFICERS, POLICE_AUXILIARIES = 122, 324

ADMIN_SINCE = dt.date(2020, 1, 1)
GRIDS_SINCE = dt.date(2022, 3, 1)


LEVELS = (
    {"key": "district", "name_zh": "区", "name_en": "District", "admin_rank": AdminRank.COUNTY},
    {"key": "town", "name_zh": "区镇", "name_en": "Town / park", "admin_rank": AdminRank.TOWNSHIP},
    {"key": "village", "name_zh": "村（社区）", "name_en": "Village / community", "admin_rank": AdminRank.VILLAGE},
    {"key": "grid", "name_zh": "网格", "name_en": "Grid", "is_grid": True, "code_digits": 3},
    {"key": "microgrid", "name_zh": "微网格", "name_en": "Micro-grid", "is_grid": True, "code_digits": 2},
)

TERMS = {
    "NODE_TYPE": (
        {"key": "comprehensive", "name_zh": "综合网格", "name_en": "Comprehensive grid"},
        {"key": "homestead", "name_zh": "宅上微网格", "name_en": "Homestead micro-grid"},
        {"key": "estate", "name_zh": "小区楼栋微网格", "name_en": "Estate micro-grid"},
    ),
}

ROLES = (
    RoleSpec("grid_office_staff", "网格办工作人员", "Grid office staff", RoleCategory.OFFICE, ("district", "town")),
    RoleSpec("chief_grid_leader", "总网格长", "Chief grid leader", RoleCategory.LEADER, ("village",),
             duties="由村（社区）党组织书记担任；统筹本村（社区）网格"),
    RoleSpec("grid_leader", "网格长", "Grid leader", RoleCategory.LEADER, ("grid",), duties="由网格党支部书记担任"),
    RoleSpec("grid_party_secretary", "网格党支部书记", "Grid party branch secretary", RoleCategory.PARTY, ("grid",)),
    RoleSpec("fulltime_grid_worker", "专职网格员", "Full-time grid worker", RoleCategory.GRID_WORKER, ("grid",),
             duties="网格巡查、信息采集、事件上报、矛盾调解、服务代办（一编三定：定区域、定人员、定职责）",
             reveals_personal_data=True),
    RoleSpec("parttime_grid_worker", "兼职网格员（网格信息员）", "Part-time grid worker (information officer)",
             RoleCategory.GRID_WORKER, ("grid",), duties="信息收集与上报"),
    RoleSpec("grid_guide", "网格指导员", "Grid guide", RoleCategory.LEADER, ("grid",),
             duties="镇机关干部联系指导网格"),
    RoleSpec("microgrid_leader", "微网格长", "Micro-grid leader", RoleCategory.LEADER, ("microgrid",),
             duties="由宅上党小组组长担任"),
    RoleSpec("party_group_leader", "宅上党小组组长", "Homestead party group leader", RoleCategory.PARTY,
             ("microgrid",)),
    RoleSpec("microgrid_worker", "微网格员", "Micro-grid worker", RoleCategory.GRID_WORKER, ("microgrid",),
             duties="10分钟网格服务圈：走访、信息收集、代办服务", reveals_personal_data=True),
    RoleSpec("household_pairing_member", "包户党员", "Party member paired with households (包户)", RoleCategory.PARTY,
             ("microgrid",), grants_scope=False),
    RoleSpec("community_police", "社区民警", "Community police officer", RoleCategory.POLICE, ("grid",),
             duties="一名民警联系N个网格：巡逻值班、法治宣传、纠纷调解", reveals_personal_data=True),
    RoleSpec("police_auxiliary", "网格辅警", "Grid police auxiliary", RoleCategory.POLICE, ("village",)),
    RoleSpec("legal_adviser", "法律顾问（律师）", "Legal adviser (lawyer)", RoleCategory.LEGAL, ("village",),
             grants_scope=False),
    RoleSpec("mediator", "人民调解员", "People's mediator", RoleCategory.LEGAL, ("village",), grants_scope=False),
    RoleSpec("volunteer", "志愿者", "Volunteer", RoleCategory.VOLUNTEER, ("grid", "microgrid"), grants_scope=False),
)

LOGINS = (
    DemoLogin("haimen_admin", "区社会治理现代化指挥中心值班员", "District command centre operator",
              sees_everything=True, perms=OPERATOR_PERMS),
    DemoLogin("haimen_town", "悦来镇网格办工作人员", "Yuelai town grid office staff"),
    DemoLogin("haimen_village", "总网格长（村党组织书记）", "Chief grid leader (village party secretary)"),
    DemoLogin("haimen_grid1", "专职网格员", "Full-time grid worker"),
    DemoLogin("haimen_police", "社区民警（联系多个网格）", "Community police officer linked to several grids"),
    department_handler_login("haimen"),
)


def _village_grid_weight(plan: Plan) -> float:
    return 1.4 if plan.name.endswith("居委会") else 1.0


def build(b: Build) -> None:
    rng = b.rng
    b.say("planning the district")
    root = b.plan_admin(DISTRICT, outline_polygon=outline(center=(121.30, 31.95), area_km2=1_148, aspect=1.7,
                                                          tilt_deg=12, rng=rng),
                        near={LOGIN_TOWN: (121.42, 31.93), "320614102000": (121.12, 31.80),
                              "320614415000": (121.55, 32.10)})
    villages = sorted(root.find("village"), key=lambda p: p.code)
    n_grids = b.scaled(GRIDS)
    n_micro = max(n_grids, b.scaled(MICROGRIDS))
    per_village = apportion(n_grids, [_village_grid_weight(v) * rng.uniform(0.7, 1.3) for v in villages], minimum=1)
    per_grid = apportion(n_micro, [rng.uniform(0.6, 1.4) for _ in range(n_grids)], minimum=1)
    micro_counts = iter(per_grid)
    b.say(f"planning {n_grids} grids and {n_micro} micro-grids")
    for village, count in zip(villages, per_village, strict=True):
        if not count:
            continue
        urban = village.name.endswith("居委会")
        grid_cells = []
        for _ in range(count):
            k = next(micro_counts)
            households = [rng.randint(*HOUSEHOLDS_PER_MICROGRID) for _ in range(k)]
            grid_cells.append(Cell(weight=sum(households) * rng.uniform(0.8, 1.2), node_type="comprehensive",
                                   data={"households": households}))
        for grid in village.divide("grid", grid_cells, rng=rng):
            households = grid.cell.data["households"]
            grid.cell.attributes = {"households": sum(households)}
            grid.divide("microgrid", [
                Cell(weight=h * rng.uniform(0.7, 1.3), node_type="estate" if urban else "homestead",
                     attributes={"households": h})
                for h in households
            ], rng=rng)
    plan_finalize(root)

    b.say("creating the territory")
    bar = b.bar(sum(1 for _ in root.walk()), "territory")

    def grid_name(seq: int, plan: Plan) -> str:
        return f"{short_name(plan_parent[plan].name)}第{seq}网格"

    def micro_name(seq: int, plan: Plan) -> str:
        return f"{plan_parent[plan].name}第{seq}微网格"

    def prepare(plan: Plan) -> None:
        # 一网格一支部一驿站: the grid's party branch and its service station (named only: no record of the
        # station's checklist exists, so none is typed in)
        if plan.level == "grid":
            plan.cell.attributes.update({
                "party_branch": f"{plan.name}党支部",
                "station": {"name": f"{plan.name}党建引领网格驿站"},
            })
        elif plan.level == "microgrid":
            group = "宅上党小组" if plan.cell.node_type == "homestead" else "楼栋党小组"
            plan.cell.attributes["party_group"] = f"{plan.name}{group}"

    plan_parent = {child: parent for parent in root.walk() for child in parent.children}
    b.create(root, valid_from={"district": ADMIN_SINCE, "town": ADMIN_SINCE, "village": ADMIN_SINCE,
                               "grid": GRIDS_SINCE, "microgrid": GRIDS_SINCE},
             names={"grid": grid_name, "microgrid": micro_name}, prepare=prepare, bar=bar)
    bar.close()
    _people(b, root, villages)


def _people(b: Build, root: Plan, villages: list[Plan]) -> None:
    b.say("people in charge (一长三员, police, legal, volunteers)")
    rng = b.rng
    since = GRIDS_SINCE
    district = root.node
    operator = b.person(organisation="海门区社会治理现代化指挥中心")
    b.assign(operator, district, "grid_office_staff", is_public=False)
    towns = sorted(root.find("town"), key=lambda p: p.code)
    town_staff = {}
    for town in towns:
        staff = b.person(organisation=f"{town.name}网格办")
        b.assign(staff, town.node, "grid_office_staff")
        town_staff[town.code] = staff

    grids_by_town: dict[str, list[Plan]] = defaultdict(list)
    first_grid_worker = {}
    chiefs = {}
    for village in villages:
        chief = b.person(organisation=f"{village.name}党组织", note="村（社区）党组织书记")
        b.assign(chief, village.node, "chief_grid_leader", start=since)
        chiefs[village.code] = chief
        b.assign(b.person(organisation="南通市海门区公安局", note="网格辅警"), village.node, "police_auxiliary",
                 start=since)
        b.assign(b.person(organisation=f"{village.name}人民调解委员会"), village.node, "mediator", start=since)
        for grid in sorted(village.children, key=lambda p: p.code):
            grids_by_town[village.code[:9]].append(grid)
            leader = b.person(note="网格党支部书记")
            b.assign(leader, grid.node, "grid_leader")
            b.assign(leader, grid.node, "grid_party_secretary")
            worker = b.person(note="专职网格员")
            b.assign(worker, grid.node, "fulltime_grid_worker")
            first_grid_worker.setdefault(village.code, worker)
            b.assign(b.person(note="兼职网格员"), grid.node, "parttime_grid_worker")
            b.assign(b.person(note=rng.choice(["学生家长", "社区实践学生", "乡贤", "五老志愿者"])), grid.node,
                     "volunteer")
            for micro in sorted(grid.children, key=lambda p: p.code):
                group_leader = b.person(note="宅上党小组组长")
                b.assign(group_leader, micro.node, "microgrid_leader")
                b.assign(group_leader, micro.node, "party_group_leader")
                note = "机关党员干部（就地担任）" if rng.random() < 0.1 else rng.choice(["楼栋长", "物业管理员", "乡贤", "党员"])
                b.assign(b.person(note=note), micro.node, "microgrid_worker")
                households = micro.node.attributes["households"]
                b.assign(b.person(note="党员"), micro.node, "household_pairing_member",
                         duties=f"包户：联系本微网格内约{households // 4}户")

    # police "1+N": officers per town in proportion to its grids, each linked to a run of neighbouring grids;
    # auxiliaries beyond one per village go to the villages with most grids
    town_codes = [code for code in sorted(grids_by_town) if grids_by_town[code]]
    officers = apportion(b.scaled(POLICE_OFFICERS), [len(grids_by_town[c]) for c in town_codes], minimum=1)
    police_officers = []
    for code, count in zip(town_codes, officers, strict=True):
        grids = grids_by_town[code]
        for chunk in apportion(len(grids), [1.0] * count) if count else []:
            if not chunk:
                continue
            officer = b.person(organisation=f"南通市海门区公安局{_town_name(towns, code)}派出所")
            police_officers.append(officer)
            for grid in grids[:chunk]:
                b.assign(officer, grid.node, "community_police")
            grids = grids[chunk:]
    extra = max(0, b.scaled(POLICE_AUXILIARIES) - len(villages))
    for village in sorted(villages, key=lambda v: -len(v.children))[:extra]:
        b.assign(b.person(organisation="南通市海门区公安局", note="网格辅警"), village.node, "police_auxiliary",
                 start=since)
    for start in range(0, len(villages), 5):
        lawyer = b.person(organisation=rng.choice(["江苏海门律师事务所", "海门区法律援助中心", "南通某律师事务所"]))
        for village in villages[start:start + 5]:
            b.assign(lawyer, village.node, "legal_adviser", start=since)
    for code, grids in grids_by_town.items():
        for start in range(0, len(grids), 4):
            guide = b.person(organisation=f"{_town_name(towns, code)}机关")
            for grid in grids[start:start + 4]:
                b.assign(guide, grid.node, "grid_guide")

    login_town = LOGIN_TOWN if grids_by_town.get(LOGIN_TOWN[:9]) else town_codes[0] + "000"
    login_village = next(v for v in villages if v.code.startswith(login_town[:9]) and v.children)
    officer = next((o for o in police_officers if _town_name(towns, login_town[:9]) in o.organisation),
                   police_officers[0])
    b.login("haimen_admin", operator)
    b.login("haimen_town", town_staff[login_town])
    b.login("haimen_village", chiefs[login_village.code])
    b.login("haimen_grid1", first_grid_worker[login_village.code])
    b.login("haimen_police", officer)
    b.login("haimen_dept", None)  # joins the departments' teams when the loop is applied


def _town_name(towns: list[Plan], code9: str) -> str:
    return next(t.name for t in towns if t.code.startswith(code9))


# the loop: 海门's three duty lists (事项准入: grid workers' own, village / community, departments')
LOOP = LoopSpec(
    departments=(
        DepartmentSpec("eco-env", "南通市海门生态环境局", "Haimen Ecology and Environment Bureau"),
        DepartmentSpec("justice", "海门区司法局", "Haimen Justice Bureau"),
        DepartmentSpec("petitions", "海门区信访局", "Haimen Letters and Visits Bureau"),
        DepartmentSpec("police-sanchang", "海门公安分局三厂派出所", "Sanchang police station"),
        DepartmentSpec("police-haimen", "海门公安分局海门派出所", "Haimen street police station"),
        DepartmentSpec("police-yuelai", "海门公安分局悦来派出所", "Yuelai police station"),
    ),
    duty_lists=(
        DutyListSpec("grid", "网格员自办事项清单", "Grid workers' self-handled matters", DutyTier.GRID, True,
                     tier(DutyTier.GRID)),
        DutyListSpec("community", "村(社区)办理事项清单", "Matters handled by the village / community",
                     DutyTier.COMMUNITY, True, tier(DutyTier.COMMUNITY)),
        DutyListSpec("department", "部门办理事项清单", "Matters handled by departments", DutyTier.DEPARTMENT, False,
                     tier(DutyTier.DEPARTMENT)),
    ),
    # 网格吹哨、部门响应: a major event escalated to the town calls its departments, the community police
    # officer reporting in for his station
    teams=(station_team("police-yuelai", "悦来派出所社区警务队", "haimen_police"),),
)


PROFILE = Profile(
    key="haimen",
    county=DISTRICT,
    name_zh="南通市海门区（精网微格）",
    name_en="Haimen district, Nantong (fine grids and micro-grids)",
    seed="000 海门区“精网微格”工程",
    summary="海门区 320614: 969 comprehensive grids, 5,783 micro-grids of 50–100 households, 一长三员, police 1+N",
    description=(
        "Seed 000. 区镇—村（社区）—网格—微网格—户: 969 comprehensive grids, 5,783 micro-grids of 50–100 households. "
        "一网格一支部一驿站; 一长三员 with 三个一肩挑; one micro-grid worker per micro-grid; "
        "包户 party members; 122 community police officers each linked to several grids and 324 grid auxiliaries. "
        "Real division codes; synthetic polygons and people."
    ),
    levels=LEVELS,
    terms=TERMS,
    roles=ROLES,
    logins=LOGINS,
    build=build,
    loop=LOOP,
    surname_bias={"施": 6.0, "陆": 3.0, "黄": 2.0, "张": 1.5, "沈": 2.5, "顾": 3.0, "倪": 4.0, "茅": 4.0, "龚": 2.5,
                  "宋": 2.0, "陈": 1.5, "徐": 2.0, "朱": 2.0},
)
