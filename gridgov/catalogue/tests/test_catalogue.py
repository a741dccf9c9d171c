"""Loading catalogues (idempotent, all or nothing, errors naming the code and field) and staged limits."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from gridgov.catalogue.models import Catalogue, Matter
from gridgov.catalogue.services import catalogue_load, catalogue_load_default, matter_stage_plan

pytestmark = pytest.mark.django_db

PIPE = {
    "code": "11002", "category": "11", "name_zh": "自来水管破裂", "name_en": "Burst water pipe",
    "report_level": "URGENT", "duty_tier": "DEPARTMENT", "department": "区水务局", "handling_mode": "HANDOVER",
    "closing_condition": "恢复供水、路面修复", "evidence_before": True, "evidence_after": True,
    "stages": [
        {"name_zh": "围挡警示", "name_en": "Fence off", "amount": 3, "unit": "CLOCK_HOURS"},
        {"name_zh": "抢修", "name_en": "Repair", "amount": 8, "unit": "CLOCK_HOURS"},
        {"name_zh": "恢复路面", "name_en": "Restore the road", "amount": 5, "unit": "WORKING_DAYS"},
    ],
    "attributes": [{"code": "flow", "datatype": "singlevaluelist", "description": "漏水程度",
                    "values": [{"key": "seep", "name": "渗漏"}, {"key": "gush", "name": "喷涌"}]}],
}
DATA = {"categories": [{"code": "11", "name_zh": "突发事件", "name_en": "Emergencies", "kind": "EVENT"},
                       {"code": "07", "name_zh": "市容环境", "name_en": "City appearance", "kind": "EVENT"}],
        "matters": [PIPE, {"code": "07002", "category": "07", "name_zh": "暴露垃圾", "duty_tier": "GRID",
                           "handling_mode": "SELF", "stages": [{"name_zh": "清理", "amount": 1, "unit": "WORKING_DAYS"}]}]}


def test_load_is_idempotent_and_versions_changes():
    first = catalogue_load(key="t", data=DATA)
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    again = catalogue_load(key="t", data=DATA)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert Catalogue.objects.get(key="t").version == 1
    changed = copy.deepcopy(DATA)
    changed["matters"][1]["stages"][0]["amount"] = 2
    report = catalogue_load(key="t", data=changed)
    assert (report.updated, report.codes_changed) == (1, ["07002"])
    assert Catalogue.objects.get(key="t").version == 2
    assert Matter.objects.get(code="07002").stages.get().amount == 2


@pytest.mark.parametrize(("patch", "field", "reason"), [
    ({"code": "1100"}, "code", "five digits"),
    ({"code": "12002"}, "category", "category's two digits"),
    ({"report_level": "HUGE"}, "report_level", "unknown value"),
    ({"department": ""}, "department", "names its department"),
    ({"stages": []}, "stages", "at least one stage"),
    ({"stages": [{"name_zh": "x", "amount": 0, "unit": "WORKING_DAYS"}]}, "stages", "must be positive"),
    ({"stages": [{"name_zh": "x", "amount": 1, "unit": "WEEKS"}]}, "stages", "unit one of"),
    ({"attributes": [{"code": "a", "datatype": "singlevaluelist"}]}, "attributes", "needs values"),
    ({"stages": [{"name_zh": "x", "amount": "1.234", "unit": "WORKING_DAYS"}]}, "stages", "two decimals"),
    ({"stages": [{"name_zh": "x", "amount": "NaN", "unit": "WORKING_DAYS"}]}, "stages", "must be positive"),
    ({"active": "yes"}, "active", "true or false"),
])
def test_bad_entries_name_code_and_field_and_write_nothing(patch, field, reason):
    data = copy.deepcopy(DATA)
    data["matters"][0].update(patch)
    with pytest.raises(ValidationError) as err:
        catalogue_load(key="bad", data=data)
    assert reason in err.value.message_dict[field][0]
    assert not Catalogue.objects.filter(key="bad").exists() and not Matter.objects.exists()


def test_staged_limits_plan_in_their_own_units():
    catalogue_load(key="t", data=DATA)
    pipe = Matter.objects.get(code="11002")
    start = timezone.make_aware(dt.datetime(2026, 9, 30, 16, 0))  # eve of the National Day week
    plan = [(stage.name_en, at) for stage, at in matter_stage_plan(matter=pipe, start=start)]
    assert plan == [("Fence off", timezone.make_aware(dt.datetime(2026, 9, 30, 19, 0))),
                    ("Repair", timezone.make_aware(dt.datetime(2026, 10, 1, 3, 0))),
                    ("Restore the road", timezone.make_aware(dt.datetime(2026, 10, 13, 17, 30)))]  # 8, 9, 10 (swapped), 12, 13


def test_the_default_catalogue_loads_and_covers_the_required_classes():
    report = catalogue_load_default()
    assert report.created >= 100 and catalogue_load_default().unchanged == report.created
    names = set(Matter.objects.values_list("category__name_zh", flat=True))
    for required in ("市政公用设施", "交通设施", "市容环卫设施", "园林绿化设施", "市容环境", "宣传广告", "施工管理",
                     "街面秩序", "突发事件", "社会治安", "矛盾纠纷", "民生服务", "安全隐患", "消防", "防汛", "信息核采"):
        assert required in names
    pipe = Matter.objects.get(catalogue__key="default", name_zh="自来水管破裂")
    assert [(s.amount, s.unit) for s in pipe.stages.all()] == [(3, "CLOCK_HOURS"), (8, "CLOCK_HOURS"),
                                                               (5, "WORKING_DAYS")]


def test_active_is_applied_when_given_and_kept_when_absent():
    # given
    catalogue_load(key="t", data=DATA)
    off = copy.deepcopy(DATA)
    off["matters"][1]["active"] = False
    # when / then: switched off by the key, kept off by data without it, on again by the key
    assert catalogue_load(key="t", data=off).codes_changed == ["07002"]
    assert not Matter.objects.get(code="07002").active
    assert catalogue_load(key="t", data=DATA).unchanged == 2
    assert not Matter.objects.get(code="07002").active
    off["matters"][1]["active"] = True
    catalogue_load(key="t", data=off)
    assert Matter.objects.get(code="07002").active
