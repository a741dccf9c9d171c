"""Pinggu district, Beijing — Baiyunsi village's micro-grids (seed 003).

黄松峪乡白云寺村: 208 households on 4.5 km², three levels 村 → 网格 → 户 with no 片长 in between, 15 village
micro-grids by zone type (12 concentrated housing, 1 transition, 2 ecological conservation), one micro-grid
worker in each (15) plus helpers drawn from the village's own staff ("1+N": cleaners, water keepers,
postmen, forest rangers, labour-security assistants, party members, villagers' representatives), and the
duty list every micro-grid worker carries. The rest of 平谷区 (18 towns, 323 villages) is loaded with its
real codes on synthetic polygons so the village sits in its district; only Baiyunsi is divided.
Households are base data (people app), counted here in each micro-grid's attributes.
"""

from __future__ import annotations

import datetime as dt

from gridgov.accounts.models import RoleCategory
from gridgov.catalogue.models import DutyTier
from gridgov.seed.profiles.base import (
    OPERATOR_PERMS,
    Build,
    Cell,
    DemoLogin,
    Profile,
    RoleSpec,
    apportion,
    department_handler_login,
    outline,
    plan_finalize,
)
from gridgov.seed.profiles.loop import DepartmentSpec, DutyListSpec, LoopSpec, any_of, named, station_team, tier
from gridgov.seed.published import short_name
from gridgov.territory.models import AdminRank

DISTRICT = "110117"
TOWN = "110117213000"  # 黄松峪乡
VILLAGE = "110117213202"  # 白云寺村委会
VILLAGE_AREA_KM2 = 4.5
HOUSEHOLDS = 208
ZONES = (("concentrated", 12), ("transition", 1), ("ecological", 2))

ADMIN_SINCE = dt.date(2020, 1, 1)
MICROGRIDS_SINCE = dt.date(2021, 10, 1)  # in place before the first quarter reported (2021-12-19 – 2022-03-19)

DUTIES = "民情收集、矛盾调解、环境整治、宣传引导、护林防火、防汛抗旱、工作代办"

LEVELS = (
    {"key": "district", "name_zh": "区", "name_en": "District", "admin_rank": AdminRank.COUNTY},
    {"key": "township", "name_zh": "乡镇（街道）", "name_en": "Town / street", "admin_rank": AdminRank.TOWNSHIP},
    {"key": "village", "name_zh": "村（社区）", "name_en": "Village / community", "admin_rank": AdminRank.VILLAGE},
    {"key": "microgrid", "name_zh": "村级微网格", "name_en": "Village micro-grid", "is_grid": True, "code_digits": 3},
)

TERMS = {
    "NODE_TYPE": (
        {"key": "concentrated", "name_zh": "集中居住区", "name_en": "Concentrated housing"},
        {"key": "transition", "name_zh": "连接过渡区", "name_en": "Transition"},
        {"key": "ecological", "name_zh": "生态管护区", "name_en": "Ecological conservation"},
    ),
}

HELPERS = (
    ("cleaner", "保洁员", "Cleaner"),
    ("water_keeper", "水管员", "Water keeper"),
    ("postman", "邮递员", "Postman"),
    ("forest_ranger", "生态林管护员", "Forest ranger"),
    ("labour_assistant", "劳动保障协管员", "Labour-security assistant"),
    ("party_member_helper", "党员（辅助）", "Party member (helper)"),
    ("representative_helper", "村民代表（辅助）", "Villagers' representative (helper)"),
)

ROLES = (
    RoleSpec("grid_centre_staff", "网格中心工作人员", "Grid centre staff", RoleCategory.OFFICE,
             ("district", "township")),
    RoleSpec("village_party_secretary", "村党支部书记", "Village party branch secretary", RoleCategory.PARTY,
             ("village",), duties="划网定格；统筹全村微网格；选定网格员"),
    RoleSpec("microgrid_worker", "微网格员", "Micro-grid worker", RoleCategory.GRID_WORKER, ("microgrid",),
             duties=DUTIES, reveals_personal_data=True),
    *(RoleSpec(key, zh, en, RoleCategory.HELPER, ("microgrid",), grants_scope=False, duties="协助微网格员（1+N）")
      for key, zh, en in HELPERS),
    RoleSpec("village_police", "包村民警", "Village police officer", RoleCategory.POLICE, ("village",),
             reveals_personal_data=True),
    RoleSpec("legal_adviser", "村法律顾问", "Village legal adviser", RoleCategory.LEGAL, ("village",),
             grants_scope=False),
    RoleSpec("volunteer", "志愿者", "Volunteer", RoleCategory.VOLUNTEER, ("village", "microgrid"), grants_scope=False),
)

LOGINS = (
    DemoLogin("pinggu_admin", "区网格化服务管理中心值班员", "District grid centre operator", sees_everything=True,
              perms=OPERATOR_PERMS),
    DemoLogin("pinggu_town", "黄松峪乡网格中心工作人员", "Huangsongyu township grid centre staff"),
    DemoLogin("pinggu_village", "白云寺村党支部书记", "Baiyunsi village party secretary"),
    DemoLogin("pinggu_grid1", "白云寺村第1微网格网格员", "Micro-grid worker of Baiyunsi micro-grid 1"),
    DemoLogin("pinggu_police", "白云寺村包村民警", "Baiyunsi village police officer"),
    department_handler_login("pinggu"),
)


def build(b: Build) -> None:
    rng = b.rng
    b.say("planning 平谷区 and 白云寺村")
    root = b.plan_admin(DISTRICT, outline_polygon=outline(center=(117.14, 40.19), area_km2=950, aspect=1.2,
                                                          tilt_deg=-15, rng=rng),
                        area_km2={VILLAGE: VILLAGE_AREA_KM2},
                        near={TOWN: (117.25, 40.25), VILLAGE: (117.24, 40.27), "110117001000": (117.11, 40.14),
                              "110117002000": (117.13, 40.15)})
    village = root.by_code()[VILLAGE]
    village.cell.attributes = {"households": HOUSEHOLDS, "levels": "村—网格—户"}
    # the ecological cells are the mountain, the transition cell rings the village core
    weights = {"ecological": 1.7, "transition": 0.45, "concentrated": 0.055}
    zone_cells = [Cell(weight=weights[zone] * rng.uniform(0.85, 1.15), node_type=zone)
                  for zone, n in reversed(ZONES) for _ in range(n)]
    concentrated = [c for c in zone_cells if c.node_type == "concentrated"]
    others = [c for c in zone_cells if c.node_type != "concentrated"]
    other_households = [3, 5, 12]  # ecological, ecological, transition: scattered homesteads
    for cell, n in zip(others, other_households, strict=True):
        cell.attributes = {"households": n}
    for cell, n in zip(concentrated, apportion(HOUSEHOLDS - sum(other_households),
                                               [rng.uniform(0.7, 1.3) for _ in concentrated]), strict=True):
        cell.attributes = {"households": n}
    village.divide("microgrid", zone_cells, rng=rng)
    plan_finalize(root)

    b.say("creating the territory")
    short = short_name(village.name)
    bar = b.bar(sum(1 for _ in root.walk()), "territory")
    b.create(root, valid_from={"district": ADMIN_SINCE, "township": ADMIN_SINCE, "village": ADMIN_SINCE,
                               "microgrid": MICROGRIDS_SINCE},
             names={"microgrid": lambda seq, plan: f"{short}第{seq}微网格"}, bar=bar)
    bar.close()

    b.say("people in charge (1+N)")
    district, town, vnode = root.node, root.by_code()[TOWN].node, village.node
    cells = sorted(village.children, key=lambda p: p.code)
    operator = b.person(organisation="平谷区网格化服务管理中心")
    b.assign(operator, district, "grid_centre_staff", is_public=False)
    town_staff = b.person(organisation="黄松峪乡网格中心")
    b.assign(town_staff, town, "grid_centre_staff")
    secretary = b.person(organisation="白云寺村党支部")
    b.assign(secretary, vnode, "village_party_secretary", start=MICROGRIDS_SINCE)
    officer = b.person(organisation="平谷分局黄松峪派出所")
    b.assign(officer, vnode, "village_police", start=MICROGRIDS_SINCE)
    b.assign(b.person(organisation="北京市平谷区律师协会"), vnode, "legal_adviser", start=MICROGRIDS_SINCE)
    for _ in range(4):
        b.assign(b.person(note="白云寺村志愿服务队"), vnode, "volunteer", start=MICROGRIDS_SINCE)

    origins = ["村级后备干部", "党小组长", "村民代表", "村两委委员", "村级公益岗"]
    workers = []
    for i, plan in enumerate(cells):
        worker = b.person(note=f"从{origins[i % len(origins)]}中择优选定")
        b.assign(worker, plan.node, "microgrid_worker")
        workers.append(worker)

    # helpers: one person may serve several micro-grids ("1+N")
    def shared(role: str, group: list, per_person: int, note: str) -> None:
        for start in range(0, len(group), per_person):
            helper = b.person(note=note)
            for plan in group[start:start + per_person]:
                b.assign(helper, plan.node, role)

    housing = [p for p in cells if p.cell.node_type == "concentrated"]
    transition = [p for p in cells if p.cell.node_type == "transition"]
    ecological = [p for p in cells if p.cell.node_type == "ecological"]
    shared("cleaner", housing + transition, 2, "村保洁员")
    shared("water_keeper", housing[:6], 6, "村水管员")
    shared("water_keeper", housing[6:] + transition + ecological, 9, "村水管员")
    shared("postman", housing, len(housing), "乡邮政所投递员")
    shared("labour_assistant", housing + transition, 7, "村劳动保障协管员")
    for plan in housing:
        b.assign(b.person(note="格内党员"), plan.node, "party_member_helper")
        b.assign(b.person(note="格内村民代表"), plan.node, "representative_helper")
    for plan in ecological:
        for _ in range(3):
            b.assign(b.person(note="生态林管护员"), plan.node, "forest_ranger")

    b.login("pinggu_admin", operator)
    b.login("pinggu_town", town_staff)
    b.login("pinggu_village", secretary)
    b.login("pinggu_grid1", workers[0])
    b.login("pinggu_police", officer)
    b.login("pinggu_dept", None)  # joins the departments' teams when the loop is applied


# the loop: the township's offices; the micro-grid worker's duty list (the seven duties above, and the grid
# tier's matters) and the village's needs list (what villagers ask of the village)
LOOP = LoopSpec(
    departments=(
        DepartmentSpec("town-enforcement", "黄松峪乡综合行政执法队", "Huangsongyu township law enforcement team"),
        DepartmentSpec("town-agriculture", "黄松峪乡农业农村办公室", "Huangsongyu township agriculture office"),
        DepartmentSpec("town-safety", "黄松峪乡平安建设办公室", "Huangsongyu township public safety office"),
        DepartmentSpec("town-social", "黄松峪乡社会事务办公室", "Huangsongyu township social affairs office"),
        DepartmentSpec("town-emergency", "黄松峪乡应急管理办公室", "Huangsongyu township emergency office"),
        DepartmentSpec("town-environment", "黄松峪乡生态环境办公室", "Huangsongyu township environment office"),
        DepartmentSpec("police-huangsongyu", "平谷分局黄松峪派出所", "Huangsongyu police station"),
    ),
    duty_lists=(
        DutyListSpec("duties", "职责清单", "Duty list", DutyTier.GRID, True,
                     any_of(tier(DutyTier.GRID), named(*DUTIES.split("、")))),
        DutyListSpec("needs", "需求清单", "Needs list", DutyTier.COMMUNITY, True, tier(DutyTier.COMMUNITY)),
    ),
    # 三三制, hard problems by blowing the whistle: the village calls the township's offices, and the village
    # police officer reports in for his station
    teams=(station_team("police-huangsongyu", "白云寺村警务组", "pinggu_police"),),
)


PROFILE = Profile(
    key="pinggu",
    county=DISTRICT,
    name_zh="北京市平谷区（白云寺村微网格）",
    name_en="Pinggu district, Beijing (Baiyunsi village micro-grids)",
    seed="003 平谷区黄松峪乡白云寺村“微网格”扁平化管理",
    summary="平谷区 110117 with 白云寺村 110117213202: 15 micro-grids (12 / 1 / 2 by zone), 208 households, 1+N",
    description=(
        "Seed 003. Three levels inside the village (村—网格—户, no 片长): 15 village micro-grids by zone type "
        "(集中居住 12, 连接过渡 1, 生态管护 2), 208 households on 4.5 km²; one micro-grid worker per micro-grid "
        "plus 1+N helpers; duty list 民情收集、矛盾调解、环境整治、宣传引导、护林防火、防汛抗旱、工作代办. Real "
        "division codes; synthetic polygons and people."
    ),
    levels=LEVELS,
    terms=TERMS,
    roles=ROLES,
    logins=LOGINS,
    build=build,
    loop=LOOP,
    surname_bias={"王": 2.0, "李": 1.5, "张": 1.8, "刘": 1.8, "杨": 1.5, "赵": 1.5, "郭": 1.5, "史": 2.0, "于": 1.5},
)
