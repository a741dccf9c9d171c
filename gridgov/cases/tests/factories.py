"""A small loop for tests: a catalogue of four matters, the people of a district (centre, street
office, community leader, grid worker, a department's team), admission lists and routing rules."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass

from PIL import Image

from gridgov.accounts import services as account_services
from gridgov.accounts.models import Department, RoleCategory, Team
from gridgov.accounts.tests.factories import make_staff
from gridgov.cases.models import CasePolicy, RoutingRule
from gridgov.catalogue.models import Catalogue, Matter, SchemeCatalogue
from gridgov.catalogue.services import catalogue_load, scheme_catalogue_set

_n = itertools.count(1)

CATALOGUE = {
    "categories": [
        {"code": "01", "name_zh": "市政公用设施", "name_en": "Municipal utilities", "kind": "PART"},
        {"code": "02", "name_zh": "街面秩序", "name_en": "Street order", "kind": "EVENT"},
        {"code": "10", "name_zh": "矛盾纠纷", "name_en": "Disputes", "kind": "SOCIAL"},
    ],
    "matters": [
        {"code": "01001", "name_zh": "井盖", "name_en": "Manhole cover", "report_level": "URGENT",
         "duty_tier": "DEPARTMENT", "department": "区水务局", "handling_mode": "HANDOVER",
         "evidence_before": True, "evidence_after": True,
         "stages": [{"name_zh": "设置警示", "amount": 2, "unit": "CLOCK_HOURS"},
                    {"name_zh": "补齐修复", "amount": 24, "unit": "CLOCK_HOURS"}],
         "attributes": [{"code": "problem", "description": "问题类型", "datatype": "singlevaluelist",
                         "required": True, "values": [{"key": "missing", "name": "缺失"},
                                                      {"key": "damaged", "name": "破损"}]}]},
        {"code": "01002", "name_zh": "供水管道爆裂", "name_en": "Burst water pipe", "report_level": "MAJOR",
         "duty_tier": "DEPARTMENT", "department": "区水务局", "handling_mode": "HANDOVER",
         "stages": [{"name_zh": "围挡", "amount": 3, "unit": "CLOCK_HOURS"},
                    {"name_zh": "抢修", "amount": 8, "unit": "CLOCK_HOURS"},
                    {"name_zh": "恢复路面", "amount": 5, "unit": "WORKING_DAYS"}]},
        {"code": "02001", "name_zh": "占道经营", "name_en": "Street vending", "report_level": "ROUTINE",
         "duty_tier": "GRID", "handling_mode": "SELF",
         "stages": [{"name_zh": "处置", "amount": 1, "unit": "WORKING_DAYS"}]},
        {"code": "10001", "name_zh": "邻里纠纷", "name_en": "Neighbour dispute", "report_level": "ROUTINE",
         "duty_tier": "COMMUNITY", "handling_mode": "COLLABORATIVE",
         "stages": [{"name_zh": "调解", "amount": 4, "unit": "WORKING_HOURS"}]},
    ],
}


def png(color=(200, 30, 30), size=(8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def matter(code: str) -> Matter:
    return Matter.objects.get(catalogue__key="default", code=code)


@dataclass
class Loop:
    scheme: object
    tree: dict
    centre: object
    office: object
    leader: object
    worker: object
    worker2: object
    handler: object
    water: Department
    water_team: Team
    police: Department
    police_team: Team


def make_loop(scheme, tree, *, rules: bool = True) -> Loop:
    if not Catalogue.objects.filter(key="default").exists():
        catalogue_load(key="default", data=CATALOGUE, name_zh="测试清单")
    if not SchemeCatalogue.objects.filter(scheme=scheme).exists():
        scheme_catalogue_set(scheme=scheme, catalogue=Catalogue.objects.get(key="default"))
    CasePolicy.objects.get_or_create(scheme=scheme)
    n = next(_n)
    office_role = account_services.role_create(scheme=scheme, key=f"office{n}", name_zh="街道网格中心",
                                               category=RoleCategory.OFFICE, levels=("street",))
    leader_role = account_services.role_create(scheme=scheme, key=f"leader{n}", name_zh="社区书记",
                                               category=RoleCategory.LEADER, levels=("community",))
    worker_role = account_services.role_create(scheme=scheme, key=f"worker{n}", name_zh="网格员",
                                               category=RoleCategory.GRID_WORKER, levels=("grid",))
    centre = account_services.staff_user_create(username=f"centre{n}", password="Grid-demo-2026!",
                                                sees_everything=True, scheme=scheme)
    office = make_staff(tree["street"], role=office_role)
    leader = make_staff(tree["community"], role=leader_role)
    worker = make_staff(tree["g1"], role=worker_role)
    worker2 = make_staff(tree["g2"], role=worker_role)
    handler = account_services.staff_user_create(username=f"water{n}", password="Grid-demo-2026!")
    police_officer = account_services.staff_user_create(username=f"police{n}", password="Grid-demo-2026!")
    water = Department.objects.create(scheme=scheme, key="water", name_zh="区水务局")
    water_team = Team.objects.create(department=water, name="水务抢修队")
    water_team.members.add(handler)
    police = Department.objects.create(scheme=scheme, key="police", name_zh="派出所")
    police_team = Team.objects.create(department=police, name="社区警务队")
    police_team.members.add(police_officer)
    if rules:
        RoutingRule.objects.create(scheme=scheme, order=10, name="水务事项", target="DEPARTMENT", department=water,
                                   category=matter("01001").category)
        RoutingRule.objects.create(scheme=scheme, order=20, name="纠纷到社区", target="COMMUNITY",
                                   category=matter("10001").category)
        RoutingRule.objects.create(scheme=scheme, order=90, name="其余给网格员", target="GRID_WORKER")
    return Loop(scheme, tree, centre, office, leader, worker, worker2, handler, water, water_team, police,
                police_team)


def point_in(node) -> tuple[float, float]:
    import shapely

    geom = shapely.geometry.shape(node.geometry) if isinstance(node.geometry, dict) else shapely.from_geojson(
        node.geometry)
    p = geom.representative_point()
    return p.x, p.y
