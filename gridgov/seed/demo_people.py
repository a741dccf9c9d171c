"""Synthetic base data (三实) for the seed profiles: houses, households, residents, legal entities,
special groups, party members and volunteers, at each seed system's published size.

Invented, but shaped like the registers of the place:
- ID numbers carry the district's real region code (and its older one where residents still hold it:
  平谷县 110226 before 2001, 海门市 320684 before 2020), a birth date and a sequence whose last digit
  says the gender, and a correct check digit; migrants (流动人口) carry the codes of the counties people
  actually come from; names are drawn from the common surnames weighted by frequency (and by the
  profile's regional bias) with given names that fit the birth cohort;
- households are families: a head, a spouse of the other gender and a similar age, children 20–35 years
  younger, sometimes the head's parents or a married son with his wife and children; elderly people
  living alone or as a couple; single and shared households of migrants;
- phones are in the 154 segment (allocated to no carrier when this was written: see
  `seed.profiles.base`), so no synthetic number reaches a real subscriber;
- houses fit the place: 白云寺村3组15号 in villages, 东梅小区3号楼2单元502室 in town, rented rooms in
  Luohu's urban villages, with owner-occupied, rented and vacant houses in the mix of the setting;
- special groups at plausible rates (everyone aged 80+, most elderly living alone, about 2.5 % disabled
  rising with age, 低保 households, veterans), party members (about 7 % of adults) in the party branch
  of their grid and paired with 3–8 households (包户; most members in Haimen), volunteers, and
  legal entities with valid unified social credit codes (and a valid organisation code inside);
- every row sits in a lowest-level cell of the profile, named by its code.

Sizes, cell by cell from the loaded territory (so a profile loaded at a smaller `scale` gets
proportionally fewer people; `fill` thins every cell further, for tests):
- Pinggu: each micro-grid's `households` (208 in 白云寺村), about 3 residents each;
- Haimen: each micro-grid's `households` (50–100; about 435,000 households over 5,783 micro-grids);
- Licheng: each comprehensive unit's `residents` (99,806 in 镇海街道); dedicated units hold their entity;
- Xiangyang: each grid's `households` (250–600, commercial grids 20–80: about 190,000 households);
- Luohu: the seed gives no population; about 1.14 million residents (the 2020 census figure, rounded),
  shared over the comprehensive grids by property form (urban villages densest).

Deterministic: each cell is generated from a random source seeded by the profile and the cell's code,
cells in code order, all dates relative to `REFERENCE_DATE`; rows are written through
`bulk.people_bulk_upsert`, so loading again finds every row unchanged.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Subquery
from shapely.prepared import prep
from stdnum import numdb
from stdnum.cn import uscc

from gridgov.people.data.names import SURNAMES, cohort
from gridgov.people.models import (
    Building,
    GroupMembership,
    HistoryAction,
    House,
    Household,
    HouseholdPairing,
    LegalEntity,
    Occupancy,
    PartyMember,
    RecordHistory,
    Relation,
    Resident,
    Volunteer,
)
from gridgov.privacy.identifiers import id_number_check_digit
from gridgov.seed.published import LUOHU_TYPE_SPLIT, short_name
from gridgov.territory import geometry as geo
from gridgov.territory.models import LevelScheme, Node

REFERENCE_DATE = dt.date(2025, 6, 30)  # the registers describe the territory on this day
MOBILE_PREFIX = "154"  # the synthetic segment of seed.profiles.base
SOURCE_PREFIX = "demo:"  # RecordHistory.source of every demo row: "demo:<profile>"
BATCH_RESIDENTS = 20_000  # residents generated and written per batch (bounds memory at full size)
KINDS = ("houses", "residents", "entities", "memberships", "party_members", "volunteers")


def demo_source(profile_key: str) -> str:
    return f"{SOURCE_PREFIX}{profile_key}"


# =========================================================================== settings
# household types: name → relative frequency, per milieu
RURAL_MIX = {"alone_elderly": 0.13, "elderly_couple": 0.22, "single": 0.06, "couple": 0.08, "nuclear": 0.20,
             "three_gen_up": 0.12, "three_gen_down": 0.16, "single_parent": 0.03}
URBAN_MIX = {"alone_elderly": 0.07, "elderly_couple": 0.15, "single": 0.10, "couple": 0.14, "nuclear": 0.33,
             "three_gen_up": 0.09, "three_gen_down": 0.07, "single_parent": 0.05}
MIGRANT_MIX = {"single": 0.36, "couple": 0.2, "nuclear": 0.28, "shared": 0.13, "single_parent": 0.03}


@dataclass(frozen=True)
class Setting:
    """How people live in a kind of cell."""

    mix: dict[str, float]  # household types of registered households
    floating: float  # share of households of migrants (流动人口, registered elsewhere)
    living_away: float  # share of registered adult children (18–40) living elsewhere (人户分离)
    vacancy: float  # share of houses standing empty
    local_rented: float  # share of registered households renting their home
    homestead: bool  # one house per household (a village) or flats in buildings
    floors: tuple[int, int] = (1, 1)
    rooms: tuple[int, int] = (2, 4)  # flats per floor and entrance
    area: tuple[int, int] = (60, 140)
    low_income: float = 0.012  # share of registered households on 低保
    entities: float = 0.02  # legal entities per resident
    milieu: str = "urban"  # rural / urban / business: which units set up here
    style: str = "unit"  # address of a flat: unit (2单元502室), flat (502室), rental (502房)


VILLAGE = Setting(RURAL_MIX, floating=0.03, living_away=0.3, vacancy=0.07, local_rented=0.02, homestead=True,
                  area=(90, 220), low_income=0.035, entities=0.012, milieu="rural")
ESTATE = Setting(URBAN_MIX, floating=0.2, living_away=0.08, vacancy=0.08, local_rented=0.1, homestead=False,
                 floors=(6, 18), rooms=(2, 3), area=(60, 140), low_income=0.01, entities=0.02)
OPEN_BLOCK = Setting(URBAN_MIX, floating=0.3, living_away=0.1, vacancy=0.06, local_rented=0.15, homestead=False,
                     floors=(3, 7), rooms=(2, 4), area=(40, 100), low_income=0.02, entities=0.04, style="flat")
COMMERCIAL = Setting(URBAN_MIX, floating=0.6, living_away=0.05, vacancy=0.12, local_rented=0.3, homestead=False,
                     floors=(12, 30), rooms=(6, 10), area=(35, 90), low_income=0.0, entities=0.0,
                     milieu="business", style="flat")
URBAN_VILLAGE = Setting(URBAN_MIX, floating=0.85, living_away=0.05, vacancy=0.04, local_rented=0.3, homestead=False,
                        floors=(6, 9), rooms=(3, 6), area=(18, 50), low_income=0.01, entities=0.03, style="rental")


# =========================================================================== regions
def region_name(code: str) -> str:
    """'341221' → '安徽省临泉县' (the current name when the code has several)."""
    parts = []
    for _part, props in numdb.get("cn/loc").info(code):
        for key in ("province", "county"):
            if key in props:
                parts.append(props[key].split(",")[-1].split("]")[-1])
    return "".join(parts)


@dataclass(frozen=True)
class DemoSpec:
    """How the base data of one profile look."""

    key: str
    leaf_level: str  # the lowest-level cells, where every row sits
    branch_level: str  # where the party branch is (党支部建在网格上)
    city: str  # address prefix (city and district)
    company_prefix: str  # how a company of the place starts its name (北京, 南通 ...)
    district_code: str  # registration region of the units
    local_codes: Callable[[dt.date, random.Random], str]  # ID region of people first registered here
    native_share: float  # share of registered adults whose ID was issued here (the others moved their 户籍 in)
    nearby: tuple[str, ...]  # counties spouses and in-movers come from
    migrant_from: dict[str, float]  # counties migrants come from → weight
    settings: dict[str, Setting]  # node type key → setting ("" = cells without a type)
    low_income_allowance: int  # 低保 standard (yuan per person per month)
    pairing: tuple[float, int, int]  # share of party members paired with households, and how many (包户)
    roads: tuple[str, ...]
    products: tuple[str, ...]  # what the factories of the place make
    estate_word: str = "栋"  # 3栋 / 3幢 / 3号楼
    work_units: tuple[str, ...] = ()  # 双报到: serving party members' work units
    residents_by_type: dict[str, float] = field(default_factory=dict)  # Luohu: relative density by grid form


def _pinggu_codes(birth: dt.date, rng: random.Random) -> str:
    # 平谷县 became 平谷区 in 2001; people registered before keep 110226 on their cards
    return "110226" if birth < dt.date(2001, 1, 1) and rng.random() < 0.8 else "110117"


def _haimen_codes(birth: dt.date, rng: random.Random) -> str:
    # 海门市 (320684) became 海门区 (320614) in 2020
    return "320684" if birth < dt.date(2020, 9, 1) else "320614"


def _fixed(code: str) -> Callable[[dt.date, random.Random], str]:
    return lambda birth, rng: code


WORK_UNITS_XIANGYANG = ("襄阳市教育局", "襄阳市人民医院", "襄城区人民政府办公室", "襄阳市税务局",
                        "襄阳市自然资源和规划局", "襄城区住建局", "襄阳市第四中学", "国网襄阳供电公司",
                        "襄阳市城市运行管理中心", "襄城区民政局")

SPECS: dict[str, DemoSpec] = {
    "pinggu": DemoSpec(
        key="pinggu", leaf_level="microgrid", branch_level="village", city="北京市平谷区", company_prefix="北京",
        district_code="110117", local_codes=_pinggu_codes, native_share=0.95,
        nearby=("130822", "131082", "120225", "131028"),
        migrant_from={"130824": 2, "411627": 1, "341221": 1, "230103": 0.5, "371526": 1, "130725": 1},
        settings={"": VILLAGE, "concentrated": VILLAGE, "transition": dataclasses.replace(VILLAGE, vacancy=0.12),
                  "ecological": dataclasses.replace(VILLAGE, vacancy=0.15, entities=0.03)},
        low_income_allowance=1395, pairing=(0.4, 3, 5), roads=("府前街", "平谷大街", "新平北路"),
        products=("食品", "果品加工", "建材"),
    ),
    "haimen": DemoSpec(
        key="haimen", leaf_level="microgrid", branch_level="grid", city="南通市海门区", company_prefix="南通",
        district_code="320614", local_codes=_haimen_codes, native_share=0.95,
        nearby=("320681", "320683", "320623", "320612"),
        migrant_from={"341221": 2, "411525": 1.5, "510921": 1, "320923": 1.5, "321322": 1.5, "321324": 1,
                      "500233": 0.7},
        settings={"": VILLAGE, "homestead": dataclasses.replace(VILLAGE, floating=0.06, living_away=0.25),
                  "estate": dataclasses.replace(ESTATE, floating=0.15, floors=(5, 18), entities=0.025)},
        low_income_allowance=1000, pairing=(0.9, 3, 8), estate_word="幢",
        roads=("人民路", "长江路", "北京路", "解放路", "秀山路", "浦江路", "张謇大道", "珠江路"),
        products=("家纺", "纺织", "服饰", "机械", "电子"),
    ),
    "licheng": DemoSpec(
        key="licheng", leaf_level="unit", branch_level="grid", city="莆田市荔城区", company_prefix="莆田",
        district_code="350304", local_codes=_fixed("350304"), native_share=0.88,
        nearby=("350322", "350302", "350303", "350305"),
        migrant_from={"360731": 1.5, "511324": 1, "430524": 1, "350524": 1, "500236": 1, "500242": 0.7},
        settings={"": ESTATE, "comprehensive": dataclasses.replace(ESTATE, floors=(5, 12), entities=0.025),
                  "dedicated": dataclasses.replace(COMMERCIAL, entities=0.0)},
        low_income_allowance=800, pairing=(0.3, 3, 5), estate_word="",
        roads=("荔城中大道", "梅园东路", "东园西路", "文献西路", "学园中街", "胜利南街", "八一路", "县巷"),
        products=("鞋业", "工艺品", "服装", "食品", "包装"),
    ),
    "xiangyang": DemoSpec(
        key="xiangyang", leaf_level="grid", branch_level="grid", city="襄阳市襄城区", company_prefix="襄阳",
        district_code="420602", local_codes=_fixed("420602"), native_share=0.85,
        nearby=("420606", "420607", "420684", "420624", "420625"),
        migrant_from={"411381": 1.5, "411329": 1, "420683": 1.5, "421022": 0.5, "421181": 0.5, "411722": 0.7},
        settings={"": ESTATE, "estate": dataclasses.replace(ESTATE, floating=0.15),
                  "open_block": OPEN_BLOCK, "commercial": COMMERCIAL,
                  "rural": dataclasses.replace(VILLAGE, floating=0.04, living_away=0.3)},
        low_income_allowance=760, pairing=(0.3, 3, 5),
        roads=("檀溪路", "荆州街", "南街", "北街", "胜利街", "卧龙路", "真武山路", "隆中路", "鼓楼巷"),
        products=("汽车零部件", "机械", "化工", "食品"), work_units=WORK_UNITS_XIANGYANG,
    ),
    "luohu": DemoSpec(
        key="luohu", leaf_level="grid", branch_level="grid", city="深圳市罗湖区", company_prefix="深圳",
        district_code="440303", local_codes=_fixed("440303"), native_share=0.35,
        nearby=("440304", "440305", "440306", "440307", "445122", "441481"),
        migrant_from={"440982": 1.2, "445281": 1.2, "441581": 1, "441424": 1, "430524": 1, "450923": 1,
                      "450981": 0.8, "360731": 1, "421022": 0.6, "411525": 0.8, "511324": 0.8, "440823": 0.8},
        settings={"": ESTATE,
                  "residential": dataclasses.replace(ESTATE, floating=0.45, floors=(18, 33), rooms=(4, 6),
                                                     entities=0.03),
                  "mixed": dataclasses.replace(ESTATE, floating=0.55, floors=(8, 30), rooms=(4, 8), entities=0.06,
                                               milieu="business"),
                  "urban_village": dataclasses.replace(URBAN_VILLAGE, entities=0.04),
                  "industrial_commercial": dataclasses.replace(COMMERCIAL, floating=0.7, entities=0.12),
                  "community_grid": ESTATE},
        low_income_allowance=1365, pairing=(0.3, 3, 5),
        roads=("东门中路", "人民南路", "深南东路", "建设路", "宝安南路", "春风路", "笋岗路", "爱国路", "太宁路",
               "布心路", "翠竹路", "文锦中路", "沿河北路", "贝丽北路"),
        products=("珠宝首饰", "黄金珠宝", "电子", "服饰"),
        # relative density by property form: urban villages densest, business districts thinnest
        residents_by_type={"residential": 1.0, "urban_village": 1.55, "mixed": 0.9, "industrial_commercial": 0.28},
    ),
}
LUOHU_RESIDENTS = 1_143_800  # 2020 census, rounded: the seed gives no population


def _per_grid(spec: DemoSpec, type_key: str) -> float:
    """Luohu: the residents of a comprehensive grid of a property form at full size, so that the 252 grids
    (68 / 11 / 53 / 120 by form) hold LUOHU_RESIDENTS."""
    norm = sum(n * spec.residents_by_type.get(t, 1.0) for t, n in LUOHU_TYPE_SPLIT.items())
    return LUOHU_RESIDENTS * spec.residents_by_type.get(type_key, 0.0) / norm


# =========================================================================== cells
@dataclass
class Leaf:
    """A lowest-level cell with what its rows need: code, names for addresses, polygon, target size."""

    node_id: int
    code: str
    name: str
    type_key: str
    attributes: dict[str, Any]
    valid_from: dt.date
    geometry: Any
    branch_code: str
    village: str  # short name of the village / community
    town: str
    seq: int  # its place among the leaves of its village (a village's 组)
    parent_name: str


def _short(name: str) -> str:
    return short_name(name)


def leaves_load(scheme: LevelScheme, spec: DemoSpec) -> list[Leaf]:
    """The scheme's current lowest-level cells, in code order."""
    nodes = {n.pk: n for n in Node.objects.filter(scheme=scheme, valid_to__isnull=True)
             .select_related("level", "node_type").only("pk", "code", "name", "parent_id", "level__key",
                                                        "level__admin_rank", "node_type__key", "attributes",
                                                        "valid_from", "geometry")}
    out, seqs = [], Counter()
    for node in sorted((n for n in nodes.values() if n.level.key == spec.leaf_level), key=lambda n: n.code):
        chain, cursor = {}, node
        while cursor is not None:
            chain[cursor.level.key] = cursor
            if cursor.level.admin_rank == 4:
                chain["_town"] = cursor
            if cursor.level.admin_rank == 5:
                chain["_village"] = cursor
            cursor = nodes.get(cursor.parent_id)
        village, town = chain.get("_village"), chain.get("_town")
        branch = chain.get(spec.branch_level, node)
        village_code = village.code if village else ""
        seqs[village_code] += 1
        parent = nodes.get(node.parent_id)
        out.append(Leaf(node_id=node.pk, code=node.code, name=node.name,
                        type_key=node.node_type.key if node.node_type_id else "", attributes=node.attributes or {},
                        valid_from=node.valid_from, geometry=node.geometry, branch_code=branch.code,
                        village=_short(village.name) if village else "", town=town.name if town else "",
                        seq=seqs[village_code], parent_name=parent.name if parent else ""))
    return out


def leaf_target(spec: DemoSpec, leaf: Leaf, *, fill: float = 1.0, grids: int = 0) -> tuple[int, int]:
    """(households, residents) to generate in a cell; one of the two is 0 = not fixed."""
    if spec.residents_by_type:
        per = _per_grid(spec, leaf.type_key)
        rng = random.Random(f"size:{spec.key}:{leaf.code}")
        return 0, round(per * rng.uniform(0.75, 1.25) * fill)
    if "residents" in leaf.attributes:
        return 0, round(int(leaf.attributes["residents"]) * fill)
    if "households" in leaf.attributes:
        return round(int(leaf.attributes["households"]) * fill), 0
    return 0, 0


def demo_estimate(scheme: LevelScheme, *, fill: float = 1.0) -> int:
    """About how many residents `demo_people_load` would write (households count three)."""
    spec = SPECS.get(scheme.key)
    if spec is None:
        return 0
    total = 0
    for leaf in leaves_load(scheme, spec):
        households, residents = leaf_target(spec, leaf, fill=fill)
        total += residents or households * 3
    return total


# =========================================================================== the generator
@dataclass
class Member:
    surname: str
    name: str
    male: bool
    birth: dt.date
    relation: str
    region: str = ""
    registered_here: bool = True
    living_here: bool = True
    moved_in: dt.date | None = None
    registered_address: str = ""
    actual_address: str = ""
    id_number: str = ""
    phone: str = ""

    def age(self, on: dt.date = REFERENCE_DATE) -> int:
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))


@dataclass
class Family:
    number: str
    migrant: bool
    kind: str
    members: list[Member]
    house_code: str = ""
    address: str = ""
    low_income: bool = False
    leaf: Leaf | None = None


@dataclass
class Batch:
    """The rows of a run of cells, by kind, ready for `people_bulk_upsert`."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in KINDS})
    households: int = 0
    pairings: int = 0


BRAND_CHARS = "鑫盛华泰宏达恒源兴隆嘉创永顺福金瑞祥佳德安康聚汇鼎昌新天宇海润博信诚合丰利荣凯腾锦益众美旺通广"
SKILLS = ("助老服务", "环境保护", "文明劝导", "心理疏导", "法律咨询", "医疗救护", "应急救援", "文艺宣传", "治安巡逻",
          "垃圾分类", "四点半课堂", "交通引导", "理发义剪", "家电维修", "防诈宣传")
DISABILITY = {"肢体": 29, "听力": 24, "多重": 16, "视力": 14, "精神": 7, "智力": 6, "言语": 1.5}
DISABILITY_GRADE = {"1": 12, "2": 22, "3": 28, "4": 38}
CARE_LEVEL = {"自理": 80, "半失能": 15, "失能": 5}
VILLAGE_NAMES = "张王李刘陈杨赵黄周吴孙马朱胡郭何高林罗郑"
ESTATE_HEADS = "东西南北新金福中海江丽长锦秀阳光华城绿翠银泰和"
ESTATE_TAILS = ("花园", "小区", "家园", "新村", "苑", "名苑", "公寓", "华庭", "雅居")
URBAN_VILLAGE_PARTS = ("东村", "西村", "南村", "北村", "新村", "老村", "上围", "下围", "新围", "东坊", "西坊", "旧村")
NUMERALS = "〇一二三四五六七八九十"


def _weighted(rng: random.Random, table: dict[str, float]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _years_before(on: dt.date, years: float) -> dt.date:
    return on - dt.timedelta(days=int(years * 365.2425))


def _between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    if end <= start:
        return start
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _birthday(birth: dt.date, years: int) -> dt.date:
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:  # 29 February
        return birth.replace(year=birth.year + years, day=28)


def organisation_code(body: str) -> str:
    """The 9-character organisation code (GB 11714): 8 characters and their check character."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


class Generator:
    """Deterministic rows for one profile's cells (see the module docstring)."""

    def __init__(self, spec: DemoSpec, leaves: list[Leaf], *, surname_bias: dict[str, float] | None = None,
                 fill: float = 1.0) -> None:
        self.spec = spec
        self.leaves = leaves
        self.fill = fill
        bias = surname_bias or {}
        self.surnames = list(SURNAMES)
        self.surname_cum = list(itertools.accumulate(SURNAMES[s] * bias.get(s, 1.0) for s in self.surnames))
        migrants = list(spec.migrant_from.items())
        self.migrant_codes = [c for c, _w in migrants]
        self.migrant_weights = [w for _c, w in migrants]
        self.region_names = {c: region_name(c) for c in (*self.migrant_codes, *spec.nearby)}
        self.ids: set[str] = set()
        self.credit_codes: set[str] = set()
        self.entity_names: set[str] = set()
        self.rng = random.Random(f"people:{spec.key}")
        self.dedicated_done: set[str] = set()
        self.places: set[tuple[str, str]] = set()  # (town, estate) named so far

    # ------------------------------------------------------------------ people
    def surname(self) -> str:
        x = self.rng.random() * self.surname_cum[-1]
        return self.surnames[bisect.bisect_right(self.surname_cum, x)]

    def given_name(self, male: bool, year: int) -> str:
        pool = cohort(year)
        if self.rng.random() < pool["single"]:
            return self.rng.choice(pool["M1" if male else "F1"])
        return self.rng.choice(pool["M" if male else "F"])

    def person(self, *, age: float, male: bool, relation: str, surname: str | None = None) -> Member:
        birth = _years_before(REFERENCE_DATE, max(0.01, age))
        surname = surname or self.surname()
        return Member(surname=surname, name=surname + self.given_name(male, birth.year), male=male, birth=birth,
                      relation=relation)

    def id_number(self, region: str, birth: dt.date, male: bool) -> str:
        for attempt in range(2000):
            day = birth + dt.timedelta(days=attempt // 40)
            seq = self.rng.randrange(1, 500) * 2 - (1 if male else 0)  # odd = male, even = female
            first17 = f"{region}{day:%Y%m%d}{seq:03d}"
            if first17 not in self.ids and day <= REFERENCE_DATE:
                self.ids.add(first17)
                return first17 + id_number_check_digit(first17)
        raise ValidationError({"id_number": "no free synthetic ID number left"})

    def phone(self) -> str:
        return MOBILE_PREFIX + f"{self.rng.randrange(10 ** 8):08d}"

    def _children(self, parents: list[Member], count: int, *, max_age: float = 30.0, relation: str = Relation.CHILD,
                  surname: str) -> list[Member]:
        """Children 20–35 years younger than each parent (none when the parents are too old or young)."""
        ages = [p.age() for p in parents]
        lo, hi = max(0.0, max(ages) - 35 + 0.5), min(max_age, min(ages) - 20 - 0.5)
        if hi < lo:
            return []
        kids = []
        for _ in range(count):
            male = self.rng.random() < 0.52
            kids.append(self.person(age=self.rng.uniform(lo, hi), male=male, relation=relation, surname=surname))
        return kids

    def _couple(self, head_age: float) -> tuple[Member, Member]:
        rng = self.rng
        head_male = rng.random() < 0.82
        gap = max(-5.0, min(10.0, rng.gauss(2.5, 2.5)))  # the husband is usually a little older
        spouse_age = head_age - gap if head_male else head_age + gap
        head = self.person(age=head_age, male=head_male, relation=Relation.HEAD)
        spouse = self.person(age=max(20.0, spouse_age), male=not head_male, relation=Relation.SPOUSE)
        return head, spouse

    def _kid_count(self, mother: Member, rural: bool) -> int:
        if mother.birth.year < 1965:
            weights = (0.2, 0.45, 0.35) if rural else (0.35, 0.45, 0.2)
        else:
            weights = (0.35, 0.5, 0.15) if rural else (0.55, 0.4, 0.05)
        return self.rng.choices((1, 2, 3), weights=weights)[0]

    def family(self, kind: str, *, rural: bool) -> list[Member]:
        rng = self.rng
        if kind == "alone_elderly":
            return [self.person(age=rng.triangular(65, 97, 72), male=rng.random() < 0.3, relation=Relation.HEAD)]
        if kind == "single":
            return [self.person(age=rng.triangular(19, 60, 27), male=rng.random() < 0.58, relation=Relation.HEAD)]
        if kind == "shared":  # rooms shared by young workers: a head and the others
            people = [self.person(age=rng.triangular(18, 42, 23), male=rng.random() < 0.6, relation=Relation.HEAD)]
            for _ in range(rng.randint(1, 3)):
                people.append(self.person(age=rng.triangular(18, 42, 23), male=people[0].male,
                                          relation=Relation.OTHER))
            return people
        if kind == "elderly_couple":
            return list(self._couple(rng.triangular(60, 92, 68)))
        if kind == "couple":
            return list(self._couple(rng.triangular(23, 66, 50)))  # young couples and empty nests
        if kind == "single_parent":
            parent = self.person(age=rng.uniform(28, 55), male=rng.random() < 0.3, relation=Relation.HEAD)
            return [parent, *self._children([parent], rng.randint(1, 2), max_age=25, surname=parent.surname)]
        if kind == "nuclear":
            head, spouse = self._couple(rng.uniform(26, 56))
            father, mother = (head, spouse) if head.male else (spouse, head)
            surname = father.surname if rng.random() < 0.92 else mother.surname
            kids = self._children([head, spouse], self._kid_count(mother, rural), surname=surname)
            return [head, spouse, *kids]
        if kind == "three_gen_up":  # a couple, their children and the head's parent(s)
            head, spouse = self._couple(rng.uniform(30, 56))
            father, mother = (head, spouse) if head.male else (spouse, head)
            kids = self._children([head, spouse], self._kid_count(mother, rural), surname=father.surname)
            gap = rng.uniform(22, 34)
            elders = []
            if head.age() + gap <= 97:
                if rng.random() < 0.45:
                    elders.append(self.person(age=head.age() + gap + rng.uniform(0, 4), male=True,
                                              relation=Relation.PARENT, surname=head.surname))
                elders.append(self.person(age=head.age() + gap, male=False, relation=Relation.PARENT))
            return [head, spouse, *kids, *elders]
        if kind == "three_gen_down":  # an older couple, a married son and his children
            head, spouse = self._couple(rng.uniform(50, 78))
            father = head if head.male else spouse
            sons = self._children([head, spouse], 1, max_age=45, surname=father.surname)
            if not sons:
                return [head, spouse]
            son = sons[0]
            son.male = True
            son.name = son.surname + self.given_name(True, son.birth.year)
            people = [head, spouse, son]
            if son.age() >= 22:
                in_law = self.person(age=max(20.0, son.age() - rng.uniform(0, 4)), male=False,
                                     relation=Relation.CHILD_IN_LAW)
                people.append(in_law)
                people += self._children([son, in_law], rng.choices((0, 1, 2), weights=(0.2, 0.5, 0.3))[0],
                                         relation=Relation.GRANDCHILD, surname=son.surname, max_age=20)
            return people
        raise ValueError(kind)

    # ------------------------------------------------------------------ places
    def point(self, leaf: Leaf, cache: dict) -> tuple[float | None, float | None]:
        """A random point inside the cell (6 decimals, still inside)."""
        if leaf.geometry is None:
            return None, None
        if "poly" not in cache:
            poly = geo.parse_geometry(leaf.geometry)
            cache["poly"], cache["prep"], cache["bounds"] = poly, prep(poly), poly.bounds
        minx, miny, maxx, maxy = cache["bounds"]
        from shapely.geometry import Point

        for _ in range(200):
            lon, lat = round(self.rng.uniform(minx, maxx), 6), round(self.rng.uniform(miny, maxy), 6)
            if cache["prep"].contains(Point(lon, lat)):
                return lon, lat
        point = cache["poly"].representative_point()
        return round(point.x, 6), round(point.y, 6)

    def base_address(self, leaf: Leaf, setting: Setting) -> str:
        spec = self.spec
        if spec.key == "licheng":
            return f"{spec.city}{leaf.town}"
        if setting.homestead:
            village = leaf.village or leaf.parent_name
            return f"{spec.city}{leaf.town}{village}"
        return f"{spec.city}{leaf.town}"

    def estate_names(self, leaf: Leaf, setting: Setting, count: int) -> list[str]:
        """The estates (or urban-village quarters) of a cell, each named once in its town, so that no two
        houses share an address."""
        rng = self.rng
        if self.spec.key == "licheng":
            return [self.claim(leaf.town, leaf.name, "座")]  # a comprehensive unit is a building of an estate
        if setting.style == "rental":
            return [self.claim(leaf.town, leaf.village.removesuffix("社区") + rng.choice(URBAN_VILLAGE_PARTS), "坊")]
        if self.spec.key == "xiangyang":
            place = leaf.name.removesuffix("网格")
            return [self.claim(leaf.town, place.removesuffix("片区"), "期")]
        return [self.claim(leaf.town, "".join(rng.sample(ESTATE_HEADS, 2)) + rng.choice(ESTATE_TAILS), "期")
                for _ in range(count)]

    def claim(self, town: str, name: str, part: str) -> str:
        """`name`, or its next part (二期, 三期 ...) when the town has it already."""
        candidate, n = name, 1
        while (town, candidate) in self.places:
            n += 1
            candidate = f"{name}{NUMERALS[n] if n < len(NUMERALS) else n}{part}"
        self.places.add((town, candidate))
        return candidate

    def houses(self, leaf: Leaf, setting: Setting, needed: int, cache: dict) -> list[dict[str, Any]]:
        """House rows for `needed` households plus the vacant share; occupancy set later."""
        rng = self.rng
        total = needed + (_poisson(rng, needed * setting.vacancy / (1 - setting.vacancy)) if needed else 0)
        rows = []
        base = self.base_address(leaf, setting)
        if setting.homestead:
            group = leaf.seq
            for no in range(1, total + 1):
                lon, lat = self.point(leaf, cache)
                rows.append({"house_code": f"{leaf.code}-{no:05d}", "address": f"{base}{group}组{no}号",
                             "cell": leaf.code, "lon": lon, "lat": lat, "occupancy": Occupancy.OWNER,
                             "area_m2": round(rng.uniform(*setting.area), 1)})
            return rows
        estates = self.estate_names(leaf, setting, rng.randint(1, 3))
        towers = estates[0].endswith(("大厦", "广场", "商务楼"))
        b = 0
        while len(rows) < total:
            b += 1
            estate = estates[(b - 1) % len(estates)]
            number = (b - 1) // len(estates) + 1
            lo, hi = setting.floors
            rooms = rng.randint(*setting.rooms)
            floors = rng.randint(lo, hi)
            entrances = rng.randint(1, 3) if setting.style == "unit" else 1
            left = total - len(rows)
            if floors * rooms * entrances >= left:  # the last building: only as big as needed
                entrances = max(1, math.ceil(left / (hi * rooms))) if setting.style == "unit" else 1
                floors = min(hi, max(2 if left > rooms else 1, math.ceil(left / (rooms * entrances))))
            if setting.style == "rental":
                building = f"{estate}{(number - 1) // 8 + 1}巷{(number - 1) % 8 + 1}号"
            elif self.spec.key == "licheng":
                building = estate if number == 1 else f"{estate}{number}座"
            elif towers:
                building = f"{estate}{'ABCDEFGH'[(number - 1) % 8]}座"
            elif setting.style == "flat":
                building = f"{estate}{2 * number - 1}号"
            else:
                building = f"{estate}{number}{self.spec.estate_word or '栋'}"
            lon, lat = self.point(leaf, cache)
            building_code = f"{leaf.code}-B{b:03d}"
            for entrance in range(1, entrances + 1):
                for floor in range(1, floors + 1):
                    for room in range(1, rooms + 1):
                        flat = f"{floor}{room:02d}"
                        if setting.style == "rental":
                            where = f"{flat}房"
                        elif entrances > 1:
                            where = f"{entrance}单元{flat}室"
                        else:
                            where = f"{flat}室"
                        rows.append({"house_code": f"{leaf.code}-{len(rows) + 1:05d}",
                                     "address": f"{base}{building}{where}", "cell": leaf.code, "lon": lon,
                                     "lat": lat, "building_code": building_code, "building_name": building,
                                     "building_no": str(b), "entrance_no": str(entrance) if entrances > 1 else "",
                                     "floor": floor, "room": flat, "occupancy": Occupancy.OWNER,
                                     "area_m2": round(rng.uniform(*setting.area), 1)})
        # the flats of the last building beyond `total` stand empty too
        return rows

    # ------------------------------------------------------------------ a cell
    def cell(self, leaf: Leaf, batch: Batch, families_out: list[Family]) -> None:
        """The rows of one cell (its own random source: a cell's people do not depend on the cells before)."""
        spec = self.spec
        self.rng = rng = random.Random(f"people:{spec.key}:{leaf.code}")
        setting = spec.settings.get(leaf.type_key, spec.settings[""])
        households, residents = leaf_target(spec, leaf, fill=self.fill)
        cache: dict[str, Any] = {}
        families: list[Family] = []
        rural = setting.milieu == "rural"
        count = 0
        while (households and len(families) < households) or (residents and count < residents):
            migrant = rng.random() < setting.floating
            kind = _weighted(rng, MIGRANT_MIX if migrant else setting.mix)
            members = self.family(kind, rural=rural)
            if residents:
                members = members[:residents - count]
            count += len(members)
            families.append(Family(number=f"{leaf.code}{len(families) + 1:05d}", migrant=migrant, kind=kind,
                                   members=members, leaf=leaf))
        if not families and not setting.entities and leaf.type_key != "dedicated":
            return
        houses = self.houses(leaf, setting, len(families), cache) if families else []
        occupied = sorted(rng.sample(range(len(houses)), len(families))) if families else []
        for i in set(range(len(houses))) - set(occupied):
            houses[i]["occupancy"] = Occupancy.VACANT
        for family, index in zip(families, occupied, strict=True):
            house = houses[index]
            rented = rng.random() < (0.88 if family.migrant else setting.local_rented)
            house["occupancy"] = Occupancy.RENTED if rented else Occupancy.OWNER
            family.house_code, family.address = house["house_code"], house["address"]
            family.low_income = not family.migrant and rng.random() < setting.low_income
            self.identify(family, house, setting)
        batch.rows["houses"] += houses
        for family in families:
            batch.rows["residents"] += [self.resident_row(family, m) for m in family.members]
            batch.rows["memberships"] += self.memberships(family)
        batch.households += len(families)
        families_out.extend(families)
        batch.rows["volunteers"] += self.volunteers(leaf, families)
        batch.rows["entities"] += self.entities(leaf, setting, sum(len(f.members) for f in families), cache)

    def identify(self, family: Family, house: dict[str, Any], setting: Setting) -> None:
        """ID numbers, registration, moves and phones of a family's members."""
        rng, spec = self.rng, self.spec
        members = family.members
        head = members[0]
        if family.migrant:
            region = rng.choices(self.migrant_codes, weights=self.migrant_weights)[0]
            home = (f"{self.region_names[region]}{rng.choice(VILLAGE_NAMES)}{rng.choice(('庄', '集', '家', '湾'))}村"
                    f"{rng.randint(1, 12)}组{rng.randint(1, 80)}号")
            arrived = _between(rng, max(_birthday(head.birth, 17), _years_before(REFERENCE_DATE, 12)),
                               REFERENCE_DATE - dt.timedelta(days=30))
            for m in members:
                m.region = region
                m.registered_here, m.living_here = False, True
                m.registered_address, m.actual_address = home, family.address
                m.moved_in = max(arrived, m.birth)
        else:
            moved_in = None
            if not setting.homestead:  # bought or rented into the estate
                moved_in = _between(rng, max(_birthday(head.birth, 20), dt.date(1995, 1, 1)),
                                    REFERENCE_DATE - dt.timedelta(days=60))
            native = rng.random() < spec.native_share
            for m in members:
                born_here = m.relation in (Relation.CHILD, Relation.GRANDCHILD) or (
                    m.relation in (Relation.HEAD, Relation.PARENT, Relation.SIBLING) and native)
                if m.relation in (Relation.SPOUSE, Relation.CHILD_IN_LAW) and rng.random() < 0.3:
                    born_here = False
                if born_here and (m.birth.year >= 1995 or rng.random() < spec.native_share):
                    m.region = spec.local_codes(m.birth, rng)
                else:
                    m.region = rng.choice(spec.nearby) if rng.random() < 0.6 else rng.choices(
                        self.migrant_codes, weights=self.migrant_weights)[0]
                m.registered_address = family.address
                if m.relation in (Relation.SPOUSE, Relation.CHILD_IN_LAW) and not born_here:
                    m.moved_in = max(_birthday(m.birth, rng.randint(21, 30)), moved_in or m.birth)
                    m.moved_in = min(m.moved_in, REFERENCE_DATE)
                else:
                    m.moved_in = moved_in if moved_in and moved_in > m.birth else None
                if m.relation == Relation.CHILD and 18 <= m.age() <= 40 and rng.random() < setting.living_away:
                    m.living_here = False
                    m.actual_address = rng.choice(("北京市", "上海市", "深圳市", "广州市", "杭州市", "苏州市", "南京市",
                                                   "武汉市", "福州市", "厦门市")) + "（外出务工）"
        for m in members:
            m.id_number = self.id_number(m.region, m.birth, m.male)
            age = m.age()
            has_phone = age >= 14 and rng.random() < (0.97 if age < 70 else 0.75 if age < 85 else 0.4)
            m.phone = self.phone() if has_phone else ""

    def resident_row(self, family: Family, m: Member) -> dict[str, Any]:
        return {"id_number": m.id_number, "name": m.name, "phone": m.phone, "household_number": family.number,
                "relation": m.relation, "household_address": family.address, "house_code": family.house_code,
                "cell": family.leaf.code, "registered_here": m.registered_here, "living_here": m.living_here,
                "registered_address": m.registered_address, "actual_address": m.actual_address,
                "moved_in_date": m.moved_in}

    def memberships(self, family: Family) -> list[dict[str, Any]]:
        rng = self.rng
        rows = []
        alone = family.kind == "alone_elderly"
        for m in family.members:
            age = m.age()
            if not m.living_here:
                continue
            if age >= 80:
                rows.append({"id_number": m.id_number, "group": "elderly_80", "start_date": _birthday(m.birth, 80)})
            if alone and age >= 65 and rng.random() < 0.9:
                rows.append({"id_number": m.id_number, "group": "elderly_alone",
                             "start_date": _between(rng, max(_birthday(m.birth, 65), dt.date(2015, 1, 1)),
                                                    REFERENCE_DATE),
                             "care_level": _weighted(rng, CARE_LEVEL) if age >= 75 else "自理"})
            p_disabled = 0.005 if age < 18 else 0.015 if age < 60 else 0.05 if age < 80 else 0.1
            if rng.random() < p_disabled:
                rows.append({"id_number": m.id_number, "group": "disabled",
                             "start_date": _between(rng, max(m.birth, dt.date(2008, 1, 1)), REFERENCE_DATE),
                             "category": _weighted(rng, DISABILITY), "grade": _weighted(rng, DISABILITY_GRADE)})
            if family.low_income and m.registered_here:
                amount = round(self.spec.low_income_allowance * rng.uniform(0.3, 1.0), -1)
                rows.append({"id_number": m.id_number, "group": "low_income",
                             "start_date": _between(rng, max(m.birth, dt.date(2016, 1, 1)), REFERENCE_DATE),
                             "allowance": int(amount)})
            p_veteran = (0.06 if age >= 40 else 0.03 if age >= 22 else 0) if m.male else (0.003 if age >= 22 else 0)
            if age <= 90 and rng.random() < p_veteran:
                rows.append({"id_number": m.id_number, "group": "veteran",
                             "start_date": min(_birthday(m.birth, rng.randint(20, 26)), REFERENCE_DATE)})
        return rows

    def volunteers(self, leaf: Leaf, families: list[Family]) -> list[dict[str, Any]]:
        rng = self.rng
        rows = []
        for family in families:
            for m in family.members:
                if m.living_here and 16 <= m.age() <= 75 and rng.random() < 0.06:
                    skills = "、".join(rng.sample(SKILLS, rng.randint(1, 3)))
                    start = _between(rng, max(_birthday(m.birth, 16), dt.date(2015, 1, 1), leaf.valid_from),
                                     REFERENCE_DATE)
                    rows.append({"id_number": m.id_number, "cell": leaf.code, "skills": skills, "start_date": start})
        return rows

    # ------------------------------------------------------------------ party members (per branch)
    def party(self, families: list[Family], batch: Batch) -> None:
        """Party members (about 7 % of adults) in the branch of their grid, some paired with households."""
        spec = self.spec
        by_branch: dict[str, list[Family]] = defaultdict(list)
        for family in families:
            by_branch[family.leaf.branch_code].append(family)
        share, lo, hi = spec.pairing
        for branch, own in by_branch.items():
            rng = self.rng = random.Random(f"party:{spec.key}:{branch}")
            for family in own:
                for m in family.members:
                    age = m.age()
                    if age < 18 or not m.living_here:
                        continue
                    p = 0.072 * (1.4 if m.male else 0.7) * (0.5 if age < 25 else 1.3 if age >= 60 else 1.0)
                    p *= 0.5 if family.migrant else 1.0
                    if rng.random() >= p:
                        continue
                    joined = _between(rng, max(_birthday(m.birth, 18), dt.date(1949, 10, 1)),
                                      min(_birthday(m.birth, 40), REFERENCE_DATE))
                    start = max(joined, family.leaf.valid_from, m.moved_in or joined)
                    row = {"id_number": m.id_number, "branch_cell": branch, "joined_date": joined,
                           "start_date": min(start, REFERENCE_DATE), "work_unit": ""}
                    if spec.work_units and 22 <= age <= 60 and rng.random() < 0.6:
                        row["work_unit"] = rng.choice(spec.work_units)
                    if rng.random() < share:
                        near = [f for f in own if f.leaf is family.leaf and f is not family]
                        if len(near) < hi:
                            near = [f for f in own if f is not family]
                        paired = rng.sample(near, min(len(near), rng.randint(lo, hi)))
                        row["paired_households"] = ",".join(f.number for f in paired)
                        batch.pairings += len(paired)
                    batch.rows["party_members"].append(row)

    # ------------------------------------------------------------------ legal entities
    def credit_code(self, kind: str) -> str:
        rng = self.rng
        region = self.spec.district_code
        if self.spec.key == "haimen" and rng.random() < 0.7:
            region = "320684"  # registered while Haimen was a county-level city
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        while True:
            if kind in ("92", "93") or rng.random() < 0.6:  # issued after 2015: MA + 6 characters
                body = "MA" + "".join(rng.choice(alphabet[:10] + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(6))
            else:
                body = f"{rng.randrange(10 ** 8):08d}"
            first17 = kind + region + organisation_code(body)
            if first17 not in self.credit_codes:
                self.credit_codes.add(first17)
                return first17 + uscc.calc_check_digit(first17)

    def brand(self) -> str:
        return "".join(self.rng.sample(BRAND_CHARS, 2))

    def entity_name(self, kind: str, place: str) -> tuple[str, str, str, tuple[int, int]]:
        """(name, industry, register type, employees range) of a unit of `kind`."""
        rng, spec = self.rng, self.spec
        city, district = spec.company_prefix, spec.city[-3:]
        b = self.brand()
        table: dict[str, tuple[str, str, str, tuple[int, int]]] = {
            "shop": (f"{district}{b}" + rng.choice(("便利店", "超市", "五金店", "水果店", "烟酒店", "粮油店", "母婴店",
                                                     "文具店", "服装店", "手机店")), "批发和零售业", "92", (1, 6)),
            "trading": (f"{city}{b}" + rng.choice(("商贸", "贸易", "实业", "电子商务")) + "有限公司", "批发和零售业",
                        "91", (3, 40)),
            "eatery": (f"{district}{self.surname()}记" + rng.choice(("小吃店", "面馆", "快餐店", "卤味店", "早餐店",
                                                                     "海鲜馆", "饭店")), "住宿和餐饮业", "92", (2, 12)),
            "hotel": (f"{city}{b}" + rng.choice(("酒店管理有限公司", "宾馆有限公司", "商务酒店有限公司")), "住宿和餐饮业",
                      "91", (5, 60)),
            "service": (f"{district}{b}" + rng.choice(("理发店", "洗衣店", "家电维修部", "汽车维修部", "家政服务部",
                                                        "裁缝店", "照相馆", "开锁服务部")),
                        "居民服务、修理和其他服务业", "92", (1, 8)),
            "factory": (f"{city}{b}{rng.choice(spec.products)}有限公司", "制造业", "91", (10, 300)),
            "construction": (f"{city}{b}" + rng.choice(("建筑工程", "装饰工程", "建设工程")) + "有限公司", "建筑业", "91",
                             (10, 150)),
            "logistics": (f"{city}{b}" + rng.choice(("物流有限公司", "货运有限公司", "快递服务有限公司")),
                          "交通运输、仓储和邮政业", "91", (5, 80)),
            "tech": (f"{city}{b}" + rng.choice(("网络科技", "信息技术", "软件", "智能科技")) + "有限公司",
                     "信息传输、软件和信息技术服务业", "91", (3, 80)),
            "consulting": (f"{city}{b}" + rng.choice(("企业管理咨询", "财务咨询", "广告", "人力资源服务", "会计服务"))
                           + "有限公司", "租赁和商务服务业", "91", (2, 30)),
            "property": (f"{city}{b}" + rng.choice(("物业管理有限公司", "房地产经纪有限公司")), "房地产业", "91", (5, 120)),
            "finance": (f"{city}{b}" + rng.choice(("投资有限公司", "融资担保有限公司", "资产管理有限公司")), "金融业", "91",
                        (5, 60)),
            "training": (f"{district}{b}" + rng.choice(("培训学校", "艺术培训中心", "托育中心")), "教育", "52", (5, 40)),
            "clinic": (f"{district}{b}" + rng.choice(("诊所", "口腔诊所", "中医诊所", "大药房")), "卫生和社会工作", "92",
                       (2, 12)),
            "eldercare": (f"{district}{place}" + rng.choice(("居家养老服务中心", "日间照料中心", "颐养院")),
                          "卫生和社会工作", "52", (6, 40)),
            "culture": (f"{city}{b}" + rng.choice(("文化传媒", "文化传播", "健身服务", "体育发展")) + "有限公司",
                        "文化、体育和娱乐业", "91", (2, 30)),
            "coop": (f"{district}{place}" + rng.choice(("果品", "蔬菜", "种植", "养殖", "农机", "粮食")) + "专业合作社",
                     "农、林、牧、渔业", "93", (5, 60)),
            "farmstay": (f"{district}{place}{self.surname()}家" + rng.choice(("农家院", "民宿", "农家乐")),
                         "住宿和餐饮业", "92", (1, 8)),
        }
        return table[kind]

    ENTITY_MIX = {
        "rural": {"shop": 3, "eatery": 1.5, "service": 1, "factory": 1, "construction": 0.5, "coop": 2.5,
                  "farmstay": 2, "logistics": 0.3, "clinic": 0.4, "eldercare": 0.2, "trading": 0.5},
        "urban": {"shop": 6, "trading": 3, "eatery": 4, "hotel": 0.6, "service": 3, "factory": 0.5,
                  "construction": 1, "logistics": 0.8, "tech": 1, "consulting": 1.5, "property": 0.7,
                  "finance": 0.3, "training": 0.8, "clinic": 1, "eldercare": 0.2, "culture": 0.8},
        "business": {"shop": 4, "trading": 6, "eatery": 4, "hotel": 1.2, "service": 1.5, "factory": 1,
                     "construction": 1, "logistics": 1.5, "tech": 3, "consulting": 3, "property": 1, "finance": 1.5,
                     "training": 0.8, "clinic": 0.8, "culture": 1.2},
    }

    def entity_row(self, leaf: Leaf, kind: str, *, place: str, address: str, cache: dict, name: str = "",
                   industry: str = "", register: str = "", employees: tuple[int, int] = (1, 10),
                   dedicated: str = "") -> dict[str, Any]:
        rng = self.rng
        if not name:
            for attempt in range(30):
                name, industry, register, employees = self.entity_name(kind, place)
                if name not in self.entity_names:
                    break
                if attempt == 29:
                    name = f"{name}（{leaf.code[-3:]}）"
        self.entity_names.add(name)
        lon, lat = self.point(leaf, cache)
        rep_male = rng.random() < 0.65
        representative = self.surname() + self.given_name(rep_male, rng.randint(1955, 1998))
        lo, hi = employees
        return {"credit_code": self.credit_code(register), "name": name, "industry": industry, "address": address,
                "representative": representative, "phone": self.phone(),
                "employees": int(math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))), "cell": leaf.code,
                "dedicated_cell": dedicated, "lon": lon, "lat": lat}

    def entities(self, leaf: Leaf, setting: Setting, residents: int, cache: dict) -> list[dict[str, Any]]:
        rng, spec = self.rng, self.spec
        rows = []
        place = leaf.village.removesuffix("村").removesuffix("社区") or leaf.name[:2]
        if leaf.type_key == "dedicated" and spec.key == "licheng":
            entity = leaf.attributes.get("entity")
            if entity:
                row = self.dedicated_entity(leaf, entity, cache)
                if row is not None:
                    rows.append(row)
            return rows
        count = _poisson(rng, residents * setting.entities)
        if spec.key == "xiangyang" and leaf.type_key == "commercial":
            count += round(rng.randint(40, 120) * self.fill)
        if spec.key == "luohu" and leaf.type_key == "industrial_commercial":
            count += round(rng.randint(150, 400) * self.fill)
        mix = self.ENTITY_MIX[setting.milieu]
        base = self.base_address(leaf, setting)
        for n in range(1, count + 1):
            kind = _weighted(rng, mix)
            if setting.homestead:
                address = f"{base}{leaf.seq}组{100 + n}号"
            else:
                address = f"{spec.city}{leaf.town}{rng.choice(spec.roads)}{rng.randint(1, 400)}号"
                if rng.random() < 0.4:
                    address += f"{rng.randint(1, 30)}号商铺"
            rows.append(self.entity_row(leaf, kind, place=place, address=address, cache=cache))
        return rows

    LICHENG_ENTITIES = {
        "中学": ("教育", "12", (80, 200)), "小学": ("教育", "12", (40, 120)), "幼儿园": ("教育", "52", (15, 50)),
        "医院": ("卫生和社会工作", "12", (200, 900)), "农贸市场": ("租赁和商务服务业", "91", (10, 60)),
        "商业综合体": ("批发和零售业", "91", (100, 600)), "机关大院": ("公共管理、社会保障和社会组织", "11", (50, 300)),
        "宾馆": ("住宿和餐饮业", "91", (20, 120)), "文创园": ("租赁和商务服务业", "91", (10, 80)),
        "客运站": ("交通运输、仓储和邮政业", "91", (40, 200)),
        "五金店": ("批发和零售业", "92", (1, 5)), "小吃店": ("住宿和餐饮业", "92", (2, 8)),
        "超市": ("批发和零售业", "92", (3, 20)), "药店": ("批发和零售业", "92", (2, 8)),
        "理发店": ("居民服务、修理和其他服务业", "92", (1, 6)), "茶行": ("批发和零售业", "92", (1, 6)),
        "电动车行": ("批发和零售业", "92", (1, 6)), "木雕工作室": ("制造业", "92", (2, 15)),
        "小作坊": ("制造业", "92", (2, 12)), "快递点": ("交通运输、仓储和邮政业", "92", (2, 10)),
        "餐馆": ("住宿和餐饮业", "92", (3, 15)), "便利店": ("批发和零售业", "92", (1, 5)),
    }

    def dedicated_entity(self, leaf: Leaf, entity: str, cache: dict) -> dict[str, Any] | None:
        """A Licheng unit bearing its own duty: its entity, with the dedicated unit (or, when the entity has a
        dedicated grid of several units, that grid) as its dedicated cell. None for the further units of a
        dedicated grid: their entity is already written."""
        spec, rng = self.spec, self.rng
        industry, register, employees = next((v for k, v in self.LICHENG_ENTITIES.items() if entity.endswith(k)),
                                             ("批发和零售业", "92", (1, 8)))
        whole_grid = leaf.parent_name.endswith("专属网格")
        dedicated = leaf.code[:-3] if whole_grid else leaf.code
        if dedicated in self.dedicated_done:
            return None
        self.dedicated_done.add(dedicated)
        road = rng.choice(spec.roads)
        name = f"{spec.city[-3:]}{entity}"
        if name in self.entity_names:  # another shop of the same name: named after its street, as they are
            name = f"{name}（{road}店）"
        if name in self.entity_names:
            name = f"{name[:-1]}{leaf.code[-3:]}号）"
        address = f"{spec.city}{leaf.town}{road}{rng.randint(1, 400)}号"
        return self.entity_row(leaf, "", place="", address=address, cache=cache, name=name, industry=industry,
                               register=register, employees=employees, dedicated=dedicated)

    # ------------------------------------------------------------------ batches
    def batches(self, *, max_residents: int = BATCH_RESIDENTS) -> Iterator[Batch]:
        """Runs of whole party branches, about `max_residents` residents each."""
        batch, families = Batch(), []
        for _branch, group in itertools.groupby(self.leaves, key=lambda leaf: leaf.branch_code):
            for leaf in group:
                self.cell(leaf, batch, families)
            if len(batch.rows["residents"]) >= max_residents:
                self.party(families, batch)
                yield batch
                batch, families = Batch(), []
        self.party(families, batch)
        if any(batch.rows.values()):
            yield batch


# =========================================================================== loading
@dataclass
class DemoReport:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    households: int = 0
    pairings: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"  base data (synthetic), {self.seconds:.1f} s: {self.households} households"]
        for kind in KINDS:
            total = self.created[kind] + self.updated[kind] + self.unchanged[kind]
            if total:
                out.append(f"    {kind:<14} {total:>8}  (created {self.created[kind]}, updated {self.updated[kind]}, "
                           f"unchanged {self.unchanged[kind]})")
        if self.pairings:
            out.append(f"    households paired with party members (包户): {self.pairings}")
        return out


def demo_people_load(*, scheme: LevelScheme, surname_bias: dict[str, float] | None = None, fill: float = 1.0,
                     actor=None, say: Callable[[str], None] | None = None) -> DemoReport:
    """Generate and write (upsert) the synthetic base data of a loaded profile's scheme. Rows are written
    through `bulk.people_bulk_upsert`: a row that is already stored as generated is left unchanged, so
    loading twice changes nothing. Any rejected row is a bug of the generator: it raises."""
    from gridgov.people.bulk import people_bulk_upsert

    spec = SPECS.get(scheme.key)
    if spec is None:
        raise ValidationError({"scheme": f"no synthetic base data for the level scheme {scheme.key!r}"})
    if not 0 < fill <= 1:
        raise ValidationError({"fill": f"fill must be in (0, 1], got {fill}"})
    started = time.monotonic()
    leaves = leaves_load(scheme, spec)
    expected = sum(r or h * 3 for h, r in (leaf_target(spec, leaf, fill=fill) for leaf in leaves))
    generator = Generator(spec, leaves, surname_bias=surname_bias, fill=fill)
    report = DemoReport()
    written = 0
    for batch in generator.batches():
        for kind in KINDS:
            rows = batch.rows[kind]
            if not rows:
                continue
            result = people_bulk_upsert(scheme=scheme, kind=kind, rows=rows, actor=actor,
                                        source=demo_source(scheme.key))
            if result.rejected:
                reasons = Counter(f"{e.column}: {e.reason}" for e in result.rejected)
                raise ValidationError({"rows": f"{len(result.rejected)} synthetic {kind} rows rejected: "
                                               + "; ".join(f"{r} (×{n})" for r, n in reasons.most_common(3))})
            report.created[kind] += result.created
            report.updated[kind] += result.updated
            report.unchanged[kind] += result.unchanged
        report.households += batch.households
        report.pairings += batch.pairings
        written += len(batch.rows["residents"])
        if say is not None:
            say(f"base data: {written:,} residents of about {expected:,} written")
    report.seconds = time.monotonic() - started
    return report


DEMO_MODELS = (HouseholdPairing, Volunteer, PartyMember, GroupMembership, Resident, Household, LegalEntity, House,
               Building)


def demo_people_unload(scheme: LevelScheme) -> int:
    """Delete the base data the demo loader wrote in `scheme` (records whose history starts with a demo
    write) with their history; other base data stay (and keep the territory from being unloaded).
    Returns the records deleted."""
    source = demo_source(scheme.key)
    deleted = 0
    for model in (Resident, Household, LegalEntity, House, Building):
        rtype = model._meta.model_name
        created_here = RecordHistory.objects.filter(record_type=rtype, action=HistoryAction.CREATE, source=source)
        qs = model.objects.filter(scheme=scheme, pk__in=Subquery(created_here.values("record_id")))
        ids = list(qs.values_list("pk", flat=True))
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            if model is Resident:
                HouseholdPairing.objects.filter(member__resident_id__in=chunk).delete()
                PartyMember.objects.filter(resident_id__in=chunk).delete()
                Volunteer.objects.filter(resident_id__in=chunk).delete()
                GroupMembership.objects.filter(resident_id__in=chunk).delete()
            if model is Household:
                HouseholdPairing.objects.filter(household_id__in=chunk).delete()
            model.objects.filter(pk__in=chunk).delete()
            RecordHistory.objects.filter(record_type=rtype, record_id__in=chunk).delete()
        deleted += len(ids)
    return deleted
