"""Luohu district, Shenzhen — comprehensive grid reform (seed 004).

区 → 街道 → 社区 → 综合网格. The district's 1,135 community grids were merged into 252 comprehensive grids by
property form — residential 68, industrial-commercial 11, urban village 53, mixed 120 — in three management
classes by difficulty, staffed by type ("因类配员": estates get more information collectors, business areas
former city-management / union / enterprise-service staff, urban villages former public-security and safety
specialists, all merged into comprehensive grid workers: 一网多员、一员多能、一队多责). The merge is loaded as
history: the community grids exist from 2016 and are merged with `node_merge` on the reform date, so the
lineage old → new is kept. Property staff serve as building leaders (2,336 in 646 estates, 81.8 % of
estates); community party "big committees" have part-time members (172); community police chiefs; task
liaisons (条块衔接). Every comprehensive grid has a party liaison station.
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
from gridgov.seed.profiles.loop import (
    DepartmentSpec,
    DutyListSpec,
    LoopSpec,
    all_of,
    in_categories,
    negate,
    tier,
)
from gridgov.seed.published import LUOHU_TYPE_SPLIT as TYPE_SPLIT
from gridgov.seed.published import short_name
from gridgov.territory import geometry as geo
from gridgov.territory import services
from gridgov.territory.models import AdminRank

DISTRICT = "440303"
LOGIN_STREET = "440303005000"  # 南湖街道
LOGIN_COMMUNITY = "440303005014"  # 渔民村社区
OLD_GRIDS, GRIDS = 1_135, 252
# management class 1 is the hardest; the published split is not given, so it follows the property form
CLASS_ODDS = {"residential": (0.15, 0.35, 0.5), "industrial_commercial": (0.2, 0.5, 0.3),
              "urban_village": (0.6, 0.3, 0.1), "mixed": (0.4, 0.4, 0.2)}
WORKERS_BY_CLASS = {"class_1": 5, "class_2": 4, "class_3": 3}
ORIGINS = {
    "residential": ("原城管信息采集员", "原社区网格员", "社区专职工作者"),
    "industrial_commercial": ("原城管工作人员", "原工会工作人员", "原企业服务专员"),
    "urban_village": ("原综治专干", "原社区安全专干", "原社区网格员"),
    "mixed": ("原社区网格员", "原城管信息采集员", "原社区安全专干", "社区专职工作者"),
}
ESTATE_WEIGHT = {"residential": 4.0, "mixed": 2.0, "urban_village": 0.6, "industrial_commercial": 0.3}
ESTATES_COVERED, PROPERTY_BUILDING_LEADERS, COVERAGE = 646, 2_336, 0.818
PARTY_PART_TIME_MEMBERS = 172

ADMIN_SINCE = dt.date(2015, 1, 1)
OLD_GRIDS_SINCE = dt.date(2016, 1, 1)
REFORM_DATE = dt.date(2023, 1, 1)

LEVELS = (
    {"key": "district", "name_zh": "区", "name_en": "District", "admin_rank": AdminRank.COUNTY},
    {"key": "street", "name_zh": "街道", "name_en": "Street", "admin_rank": AdminRank.TOWNSHIP},
    {"key": "community", "name_zh": "社区", "name_en": "Community", "admin_rank": AdminRank.VILLAGE},
    {"key": "grid", "name_zh": "综合网格", "name_en": "Comprehensive grid", "is_grid": True, "code_digits": 3},
)

TERMS = {
    "NODE_TYPE": (
        {"key": "residential", "name_zh": "住宅类", "name_en": "Residential"},
        {"key": "industrial_commercial", "name_zh": "工商业类", "name_en": "Industrial-commercial"},
        {"key": "urban_village", "name_zh": "城中村类", "name_en": "Urban village"},
        {"key": "mixed", "name_zh": "商住混合类", "name_en": "Mixed commercial-residential"},
        {"key": "community_grid", "name_zh": "社区网格（改革前）", "name_en": "Community grid (before the reform)"},
    ),
    "MANAGEMENT_CLASS": (
        {"key": "class_1", "name_zh": "一类（管理难度大）", "name_en": "Class 1 (hardest)"},
        {"key": "class_2", "name_zh": "二类", "name_en": "Class 2"},
        {"key": "class_3", "name_zh": "三类（管理难度小）", "name_en": "Class 3 (easiest)"},
    ),
}

ROLES = (
    RoleSpec("grid_office_staff", "综合网格管理机构工作人员", "Comprehensive grid office staff", RoleCategory.OFFICE,
             ("district", "street")),
    RoleSpec("community_party_secretary", "社区党委书记", "Community party committee secretary", RoleCategory.PARTY,
             ("community",)),
    RoleSpec("party_part_time_member", "社区党委兼职委员", "Part-time member of the community party committee",
             RoleCategory.PARTY, ("community",), grants_scope=False,
             duties="股份公司董事长、社区警长、社康主任、物业管理处副主任、社会组织负责人等"),
    RoleSpec("task_liaison", "任务联络人", "Task liaison (条块衔接)", RoleCategory.OFFICE, ("community",),
             duties="认领条线下派任务，由社区党委分派给综合网格，汇总上报数据和结果"),
    RoleSpec("community_police_chief", "社区警长", "Community police chief", RoleCategory.POLICE, ("community",),
             reveals_personal_data=True),
    RoleSpec("grid_leader", "综合网格长", "Comprehensive grid leader", RoleCategory.LEADER, ("grid",)),
    RoleSpec("grid_worker", "综合网格员", "Comprehensive grid worker", RoleCategory.GRID_WORKER, ("grid",),
             duties="信息核采、网格巡查、社区服务、街社统筹（巡办合一 / 巡办协同 / 巡办分离）",
             reveals_personal_data=True),
    RoleSpec("property_building_leader", "物业楼长（兼职网格员）", "Property building leader (part-time grid worker)",
             RoleCategory.PROPERTY, ("grid",), grants_scope=False,
             duties="特殊群体关爱、重要节点安全巡查、重点人员稳控、反诈宣传；与综合网格员交换线索"),
    RoleSpec("volunteer", "志愿者", "Volunteer", RoleCategory.VOLUNTEER, ("grid",), grants_scope=False),
)

LOGINS = (
    DemoLogin("luohu_admin", "区综合网格管理机构值班员", "District comprehensive grid office operator",
              sees_everything=True, perms=OPERATOR_PERMS),
    DemoLogin("luohu_street", "南湖街道综合网格工作人员", "Nanhu street grid office staff"),
    DemoLogin("luohu_community", "社区党委书记", "Community party committee secretary"),
    DemoLogin("luohu_grid1", "综合网格员", "Comprehensive grid worker"),
    department_handler_login("luohu"),
)

PROPERTY_COMPANIES = ("万科物业", "招商积余", "华润物业", "中海物业", "长城物业", "莲花物业", "罗湖物业", "鹏基物业")
ESTATE_HEADS = "翠金银莲泥草湖东布黄笋碧怡鹿松桂"
ESTATE_TAILS = ("苑", "园", "花园", "大厦", "新村", "阁", "雅居", "名苑")


def build(b: Build) -> None:
    rng = b.rng
    b.say("planning 罗湖区")
    near = {"440303001000": (114.11, 22.545), "440303002000": (114.14, 22.55), "440303003000": (114.12, 22.555),
            "440303004000": (114.13, 22.565), LOGIN_STREET: (114.115, 22.538), "440303006000": (114.10, 22.565),
            "440303007000": (114.15, 22.575), "440303008000": (114.18, 22.56), "440303009000": (114.125, 22.58),
            "440303010000": (114.11, 22.59)}
    root = b.plan_admin(DISTRICT, outline_polygon=outline(center=(114.145, 22.565), area_km2=78.75, aspect=1.6,
                                                          tilt_deg=8, rng=rng),
                        weight=lambda row: 1.0, near=near)
    communities = sorted(root.find("community"), key=lambda p: p.code)
    n_grids = b.scaled(GRIDS)
    n_old = max(n_grids, b.scaled(OLD_GRIDS))
    types = [t for t, n in zip(TYPE_SPLIT, apportion(n_grids, list(TYPE_SPLIT.values())), strict=True)
             for _ in range(n)]
    rng.shuffle(types)
    old_per_grid = apportion(n_old, [rng.uniform(0.5, 1.5) for _ in range(n_grids)], minimum=1)
    per_community = apportion(n_grids, [rng.uniform(0.6, 1.4) for _ in communities], minimum=1)
    n_estates = round(b.scaled(ESTATES_COVERED) / COVERAGE)
    estates = apportion(n_estates, [ESTATE_WEIGHT[t] * rng.uniform(0.5, 1.5) for t in types])
    covered = apportion(b.scaled(ESTATES_COVERED), [float(e) for e in estates])
    covered = [min(c, e) for c, e in zip(covered, estates, strict=True)]

    b.say(f"planning {n_grids} comprehensive grids over {n_old} community grids")
    grid_cells = []
    for i, form in enumerate(types):
        odds = CLASS_ODDS[form]
        klass = rng.choices(["class_1", "class_2", "class_3"], weights=odds)[0]
        grid_cells.append(Cell(weight=rng.uniform(0.6, 1.4), node_type=form, management_class=klass,
                               attributes={"estates": estates[i],
                                           "party_station": rng.choice(["党支部联络站", "党员服务站"])},
                               data={"old": old_per_grid[i], "estates_with_property_building_leaders": covered[i]}))
    cells = iter(grid_cells)
    for community, count in zip(communities, per_community, strict=True):
        for grid in community.divide("grid", [next(cells) for _ in range(count)], rng=rng):
            grid.divide("grid", [Cell(weight=rng.uniform(0.6, 1.4), node_type="community_grid")
                                 for _ in range(grid.cell.data["old"])], rng=rng)
    plan_finalize(root)

    b.say("creating streets and communities")
    b.create(root, valid_from={"district": ADMIN_SINCE, "street": ADMIN_SINCE, "community": ADMIN_SINCE},
             stop=lambda plan: plan.level == "grid")
    bar = b.bar(n_old + n_grids, "community grids, then the merge")
    b.say(f"{OLD_GRIDS_SINCE}: {n_old} community grids")
    old_grids = []
    for community in communities:
        old = b.in_reading_order([o for grid in community.children for o in grid.children])
        codes = b._codes(community, b.levels["grid"], len(old))
        for seq, (plan, code) in enumerate(zip(old, codes, strict=True), start=1):
            plan.code, plan.name = code, f"{short_name(community.name)}第{seq}网格"
            old_grids.append((plan, community.code))
    b.insert(old_grids, valid_from=OLD_GRIDS_SINCE, bar=bar)
    b.say(f"{REFORM_DATE}: merging them into {n_grids} comprehensive grids")
    for community in communities:
        _merge(b, community, bar)
    bar.close()
    _people(b, root, communities)


def _merge(b: Build, community: Plan, bar) -> None:
    """Merge the community's grids into its comprehensive grids on the reform date, coded after them in
    reading order; the lineage old → new is kept."""
    if not community.children:
        return
    short = short_name(community.name)
    new = b.in_reading_order(community.children)
    codes = services.code_next(parent=community.node, level=b.levels["grid"], count=len(new))
    for seq, (plan, code) in enumerate(zip(new, codes, strict=True), start=1):
        name = f"{short}第{seq}综合网格"
        merged = services.node_merge(
            [o.node for o in plan.children], name=name, code=code, geometry=geo.to_geojson(plan.poly),
            effective_date=REFORM_DATE, actor=b.actor, reason="综合网格改革：按物业形态将社区网格合并为综合网格",
            node_type=b.term("NODE_TYPE", plan.cell.node_type),
            management_class=b.term("MANAGEMENT_CLASS", plan.cell.management_class))
        plan.node = services.node_update(merged, attributes=plan.cell.attributes, effective_date=REFORM_DATE,
                                         actor=b.actor, reason="综合网格：物业楼长覆盖、党建服务事项清单")
        plan.code, plan.name = code, name
        bar.update(1)


def _people(b: Build, root: Plan, communities: list[Plan]) -> None:
    b.say("people in charge (因类配员, 物业楼长, 大党委)")
    rng = b.rng
    operator = b.person(organisation="罗湖区综合网格管理机构")
    b.assign(operator, root.node, "grid_office_staff", is_public=False)
    street_staff = {}
    for street in sorted(root.children, key=lambda p: p.code):
        staff = b.person(organisation=f"{street.name}综合网格管理办公室")
        b.assign(staff, street.node, "grid_office_staff", start=REFORM_DATE)
        street_staff[street.code] = staff
    members = apportion(b.scaled(PARTY_PART_TIME_MEMBERS), [rng.uniform(0.5, 1.5) for _ in communities])
    secretaries, first_worker = {}, {}
    for community, n_members in zip(communities, members, strict=True):
        node = community.node
        secretary = b.person(organisation=f"{community.name}党委")
        b.assign(secretary, node, "community_party_secretary", start=REFORM_DATE)
        secretaries[community.code] = secretary
        chief = b.person(organisation="深圳市公安局罗湖分局")
        b.assign(chief, node, "community_police_chief", start=REFORM_DATE)
        for _ in range(2):
            b.assign(b.person(note=rng.choice(["原综治专干", "原安全专干", "原城管专干", "原民政专干"])), node,
                     "task_liaison", start=REFORM_DATE)
        if n_members:
            b.assign(chief, node, "party_part_time_member", start=REFORM_DATE)
        for _ in range(max(0, n_members - 1)):
            b.assign(b.person(note=rng.choice(["股份公司董事长", "社康中心主任", "物业管理处副主任", "社会组织负责人"])),
                     node, "party_part_time_member", start=REFORM_DATE)
    property_leaders = b.scaled(PROPERTY_BUILDING_LEADERS)
    grids = [g for c in communities for g in sorted(c.children, key=lambda p: p.code)]
    leaders_per_grid = apportion(property_leaders, [float(g.cell.data["estates_with_property_building_leaders"])
                                                    for g in grids])
    by_community: dict[str, list[Plan]] = defaultdict(list)
    for grid in grids:
        by_community[grid.code[:12]].append(grid)
    names_by_code = {c.code: short_name(c.name) for c in communities}
    for code, own in by_community.items():
        for start in range(0, len(own), 3):
            leader = b.person(organisation=f"{names_by_code[code]}工作站", note="社区专职工作者")
            for grid in own[start:start + 3]:
                b.assign(leader, grid.node, "grid_leader")
    for grid, n_property in zip(grids, leaders_per_grid, strict=True):
        form, klass = grid.cell.node_type, grid.cell.management_class
        for k in range(WORKERS_BY_CLASS[klass]):
            worker = b.person(note=ORIGINS[form][k % len(ORIGINS[form])])
            b.assign(worker, grid.node, "grid_worker")
            first_worker.setdefault(grid.code[:12], worker)
        company = rng.choice(PROPERTY_COMPANIES)
        covered = max(1, grid.cell.data["estates_with_property_building_leaders"])
        names = [rng.choice(ESTATE_HEADS) + rng.choice(ESTATE_HEADS) + rng.choice(ESTATE_TAILS) for _ in range(covered)]
        for k in range(n_property):
            leader = b.person(organisation=f"{company}{names[k % covered]}管理处")
            b.assign(leader, grid.node, "property_building_leader", duties=f"{names[k % covered]}物业楼长")
        b.assign(b.person(note="志愿者"), grid.node, "volunteer")

    login_community = LOGIN_COMMUNITY if LOGIN_COMMUNITY in first_worker else next(
        (c for c in first_worker if c.startswith(LOGIN_STREET[:9])), next(iter(first_worker)))
    b.login("luohu_admin", operator)
    b.login("luohu_street", street_staff[login_community[:9] + "000"])
    b.login("luohu_community", secretaries[login_community])
    b.login("luohu_grid1", first_worker[login_community])
    b.login("luohu_dept", None)  # joins the departments' teams when the loop is applied


# the loop: the comprehensive grid's four kinds of work, all given to grid workers; department matters are on
# no list, so they stay the departments' duty (入格事项准入)
INFORMATION = in_categories("信息核采")
SERVICES = in_categories("民生服务", "矛盾纠纷")
LOOP = LoopSpec(
    departments=(
        DepartmentSpec("eco-env", "深圳市生态环境局罗湖管理局", "Luohu office of the Shenzhen Ecology and Environment "
                                                             "Bureau"),
        DepartmentSpec("justice", "罗湖区司法局", "Luohu Justice Bureau"),
        DepartmentSpec("petitions", "罗湖区信访局", "Luohu Letters and Visits Bureau"),
        DepartmentSpec("police-dongmen", "罗湖公安分局东门派出所", "Dongmen police station"),
    ),
    duty_lists=(
        DutyListSpec("information", "信息核采", "Information collection", DutyTier.GRID, True,
                     all_of(tier(DutyTier.GRID), INFORMATION)),
        DutyListSpec("patrol", "网格巡查", "Grid patrol", DutyTier.GRID, True,
                     all_of(tier(DutyTier.GRID), negate(INFORMATION))),
        DutyListSpec("community-service", "社区服务", "Community services", DutyTier.COMMUNITY, True,
                     all_of(tier(DutyTier.COMMUNITY), SERVICES)),
        DutyListSpec("coordination", "街社统筹", "Street and community coordination", DutyTier.COMMUNITY, True,
                     all_of(tier(DutyTier.COMMUNITY), negate(SERVICES))),
    ),
)


PROFILE = Profile(
    key="luohu",
    county=DISTRICT,
    name_zh="深圳市罗湖区（综合网格改革）",
    name_en="Luohu district, Shenzhen (comprehensive grid reform)",
    seed="004 党建引领基层治理综合网格改革的“罗湖实践”",
    summary="罗湖区 440303: 1,135 community grids merged into 252 comprehensive grids (68/11/53/120), classes 1–3",
    description=(
        "Seed 004. 区—街道—社区—综合网格: 1,135 community grids merged (history kept) into 252 comprehensive grids "
        "by property form — residential 68, industrial-commercial 11, urban village 53, mixed 120 — in three "
        "management classes, staffed by type; 2,336 property building leaders in 646 estates (81.8 % coverage); "
        "172 part-time members of community party committees. Real division codes; synthetic polygons and people."
    ),
    levels=LEVELS,
    terms=TERMS,
    roles=ROLES,
    logins=LOGINS,
    build=build,
    loop=LOOP,
    surname_bias={"陈": 3.0, "黄": 2.5, "李": 1.5, "张": 1.5, "何": 2.0, "梁": 2.5, "罗": 2.0, "叶": 2.0, "钟": 2.0,
                  "彭": 1.5, "曾": 2.0, "赖": 1.0, "邓": 2.0, "刘": 1.5},
)
