"""Builders for catalogue and admission tests: a small catalogue, departments, duty lists and logins."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from gridgov.accounts.models import Department, Team
from gridgov.catalogue.admission import duty_list_create
from gridgov.catalogue.models import Catalogue, DutyList, DutyTier
from gridgov.catalogue.services import catalogue_load

_n = itertools.count(1)


def stage(name: str = "处置", amount=1, unit: str = "WORKING_DAYS") -> dict:
    return {"name_zh": name, "amount": amount, "unit": unit}


SMALL = {
    "categories": [{"code": "07", "name_zh": "市容环境", "name_en": "City appearance", "kind": "EVENT"},
                   {"code": "11", "name_zh": "突发事件", "name_en": "Emergencies", "kind": "EVENT"},
                   {"code": "14", "name_zh": "民生服务", "name_en": "Livelihood services", "kind": "SOCIAL"}],
    "matters": [
        {"code": "07002", "name_zh": "暴露垃圾", "name_en": "Exposed rubbish", "duty_tier": "GRID",
         "handling_mode": "SELF", "stages": [stage("清理")]},
        {"code": "07008", "name_zh": "乱涂乱画", "name_en": "Graffiti", "duty_tier": "GRID", "handling_mode": "SELF",
         "stages": [stage("清除")]},
        {"code": "11002", "name_zh": "自来水管破裂", "name_en": "Burst water pipe", "report_level": "URGENT",
         "duty_tier": "DEPARTMENT", "department": "区水务局", "evidence_before": True,
         "stages": [stage("围挡警示", 3, "CLOCK_HOURS"), stage("抢修", 8, "CLOCK_HOURS"), stage("恢复路面", 5)],
         "attributes": [{"code": "flow", "datatype": "singlevaluelist", "description": "漏水程度",
                         "values": [{"key": "seep", "name": "渗漏"}, {"key": "gush", "name": "喷涌"}]}]},
        {"code": "14001", "name_zh": "困难群众求助", "name_en": "Help for people in need", "duty_tier": "COMMUNITY",
         "handling_mode": "COLLABORATIVE", "stages": [stage("走访核实", 2)]},
    ],
}


def make_catalogue(key: str = "default") -> Catalogue:
    catalogue_load(key=key, data=SMALL, name_zh="测试事项清单")
    return Catalogue.objects.get(key=key)


def make_user(*, perms=(), sees_everything: bool = False, username: str | None = None):
    from gridgov.territory.models import LevelScheme

    # a district-wide login is district-wide for its own scheme (here: the test's one scheme)
    scheme = LevelScheme.objects.order_by("pk").first() if sees_everything else None
    user = get_user_model().objects.create_user(username=username or f"user{next(_n)}", password="Grid-demo-2026!",
                                                sees_everything=sees_everything, scheme=scheme, is_staff=True)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return user


def make_department(scheme, key: str = "water", name_zh: str = "区水务局", *, members=()) -> Department:
    department = Department.objects.create(scheme=scheme, key=key, name_zh=name_zh)
    team = Team.objects.create(department=department, name="默认组")
    team.members.add(*members)
    return department


def make_duty_list(scheme, key: str = "grid", *, duty_tier: str = DutyTier.GRID, admits_to_grid: bool = True,
                   name_zh: str = "网格员自办事项清单") -> DutyList:
    return duty_list_create(scheme=scheme, key=key, name_zh=name_zh, duty_tier=duty_tier,
                            admits_to_grid=admits_to_grid)
