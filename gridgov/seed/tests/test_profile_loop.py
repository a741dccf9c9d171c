"""The seed profiles' loop configuration: departments with default teams, the case policy on the default
catalogue, duty lists filled by rule, routing rules; applied once, unchanged when applied again."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import replace
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from gridgov.accounts.models import Department, Team
from gridgov.cases.models import AssigneeKind, CasePolicy, RoutingRule
from gridgov.catalogue.admission import matter_admitted
from gridgov.catalogue.models import (
    AdmissionRequest,
    AdmissionState,
    DutyList,
    DutyListEntry,
    Matter,
    SchemeCatalogue,
)
from gridgov.core.models import AuditEntry
from gridgov.seed.profiles import haimen, licheng, luohu, pinggu, profile_get, profile_load, xiangyang
from gridgov.seed.profiles.loop import community_level, profile_loop_apply
from gridgov.territory.models import LevelScheme
from gridgov.territory.tests.factories import make_scheme

pytestmark = pytest.mark.django_db


def on_list(scheme, key: str) -> set[str]:
    return set(DutyListEntry.objects.filter(duty_list__scheme=scheme, duty_list__key=key,
                                            removed_version__isnull=True).values_list("matter__code", flat=True))


def tier_codes(tier: str) -> set[str]:
    return set(Matter.objects.filter(catalogue__key="default", duty_tier=tier).values_list("code", flat=True))


def test_loading_pinggu_gives_its_loop():
    # when
    report = profile_load(profile_get("pinggu"))
    # then: the scheme uses the default catalogue, and has its policy
    scheme = report.scheme
    assert SchemeCatalogue.objects.get(scheme=scheme).catalogue.key == "default"
    assert CasePolicy.objects.filter(scheme=scheme).exists()
    # the township's offices and one department per department the catalogue names, each with a default team
    departments = Department.objects.filter(scheme=scheme)
    named = set(Matter.objects.exclude(department="").values_list("department", flat=True))
    assert set(departments.values_list("name_zh", flat=True)) >= named | {"黄松峪乡综合行政执法队", "平谷分局黄松峪派出所"}
    assert departments.count() == len(named) + len(pinggu.LOOP.departments)
    assert departments.get(name_zh="区水务局").key.startswith("dept-")
    assert Team.objects.filter(department__scheme=scheme).count() == departments.count()
    assert not Team.objects.filter(department__scheme=scheme, areas__isnull=False).exists()
    # the duty list (grid tier and the seven duties) and the needs list (village tier), each at version 1
    lists = {d.key: d for d in DutyList.objects.filter(scheme=scheme)}
    assert [(d.key, d.name_zh, d.duty_tier, d.admits_to_grid, d.version) for d in lists.values()] == [
        ("duties", "职责清单", "GRID", True, 1), ("needs", "需求清单", "COMMUNITY", True, 1)]
    assert on_list(scheme, "duties") == tier_codes("GRID") | {"07012"}  # 环境整治 is one of the seven duties
    assert on_list(scheme, "needs") == tier_codes("COMMUNITY")
    requests = AdmissionRequest.objects.filter(duty_list__scheme=scheme)
    assert {(r.state, r.reason, r.applied_by.username) for r in requests} == {
        (AdmissionState.APPROVED, "initial list", "pinggu_admin")}
    assert not AuditEntry.objects.filter(actor__username="pinggu_admin").exists()
    # routing: department matters to their department, village matters to the village, the rest to the worker
    rules = list(RoutingRule.objects.filter(scheme=scheme).select_related("matter", "department",
                                                                           "community_level"))
    assert Counter(r.target for r in rules) == {AssigneeKind.DEPARTMENT: len(tier_codes("DEPARTMENT")),
                                                AssigneeKind.COMMUNITY: len(tier_codes("COMMUNITY")),
                                                AssigneeKind.GRID_WORKER: 1}
    assert [r.order for r in rules] == list(range(10, 10 * len(rules) + 1, 10))
    assert all(r.department.name_zh == r.matter.department for r in rules if r.target == AssigneeKind.DEPARTMENT)
    assert {r.community_level.key for r in rules if r.target == AssigneeKind.COMMUNITY} == {"village"}
    assert (rules[-1].target, rules[-1].matter, rules[-1].category) == (AssigneeKind.GRID_WORKER, None, None)
    # the dispatch's question
    assert matter_admitted(matter=Matter.objects.get(code="07002"), scheme=scheme)
    assert not matter_admitted(matter=Matter.objects.get(code="01001"), scheme=scheme)
    assert any("loop:" in line for line in report.lines())


def test_applying_the_loop_again_changes_nothing_an_older_load_gets_it_and_unloading_removes_it():
    # given
    call_command("load_profile", "pinggu", stdout=io.StringIO(), stderr=io.StringIO())
    scheme = LevelScheme.objects.get(key="pinggu")

    def state():
        return (list(Department.objects.filter(scheme=scheme).values_list("key", "name_zh")),
                Team.objects.filter(department__scheme=scheme).count(),
                list(DutyList.objects.filter(scheme=scheme).values_list("key", "version")),
                DutyListEntry.objects.filter(duty_list__scheme=scheme).count(),
                AdmissionRequest.objects.count(),
                list(RoutingRule.objects.filter(scheme=scheme).values_list("order", "name", "target")),
                CasePolicy.objects.filter(scheme=scheme).count(), AuditEntry.objects.count())

    before = state()
    # when
    again = profile_loop_apply(profile_get("pinggu"))
    out = io.StringIO()
    call_command("load_profile", "pinggu", "--if-empty", stdout=out, stderr=io.StringIO())
    # then
    assert not again.changed and "loop:" not in out.getvalue()
    assert state() == before
    # a database loaded before the loop existed gets it from --if-empty
    DutyListEntry.objects.all().delete()
    AdmissionRequest.objects.all().delete()
    DutyList.objects.all().delete()
    RoutingRule.objects.all().delete()
    out = io.StringIO()
    call_command("load_profile", "pinggu", "--if-empty", stdout=out, stderr=io.StringIO())
    assert "0 departments and 0 teams created, 2 duty lists created" in out.getvalue()
    assert state()[2:6] == before[2:6]
    # and the profile unloads with its loop (its requests name a demo login)
    call_command("load_profile", "pinggu", "--replace", stdout=io.StringIO(), stderr=io.StringIO())
    assert DutyList.objects.filter(scheme__key="pinggu").count() == 2
    assert AdmissionRequest.objects.count() == before[4]


# --------------------------------------------------------------------------- the other profiles' lists
def apply(module, *, superuser):
    """A profile's loop on a small test scheme (district → street → community → grid → micro-grid)."""
    scheme = make_scheme()
    # the story configuration names the profile's own roles, cells and logins: it is tested on the loaded
    # profiles (test_stories); here only the departments, lists and generic routing
    loop = replace(module.LOOP, grants=(), admissions=(), rules=(), teams=())
    profile = SimpleNamespace(key=scheme.key, loop=loop, logins=())
    return scheme, profile_loop_apply(profile, actor=superuser)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", password="Root-pass-2026!")


def test_haimen_three_lists_the_department_list_does_not_admit(superuser):
    scheme, report = apply(haimen, superuser=superuser)
    assert list(DutyList.objects.filter(scheme=scheme).values_list("name_zh", "duty_tier", "admits_to_grid")) == [
        ("网格员自办事项清单", "GRID", True), ("村(社区)办理事项清单", "COMMUNITY", True),
        ("部门办理事项清单", "DEPARTMENT", False)]
    assert report.entries_seeded == {"grid": 25, "community": 18, "department": 113}
    assert on_list(scheme, "department") == tier_codes("DEPARTMENT")
    assert not matter_admitted(matter=Matter.objects.get(code="01001"), scheme=scheme)
    assert matter_admitted(matter=Matter.objects.get(code="13001"), scheme=scheme)
    assert AuditEntry.objects.filter(actor=superuser, action="catalogue.duty_list_seed").count() == 3


def test_luohu_four_kinds_of_work_and_department_matters_on_no_list(superuser):
    scheme, _report = apply(luohu, superuser=superuser)
    assert list(DutyList.objects.filter(scheme=scheme).values_list("name_zh", flat=True)) == [
        "信息核采", "网格巡查", "社区服务", "街社统筹"]
    assert DutyList.objects.filter(scheme=scheme, admits_to_grid=False).count() == 0
    information, patrol = on_list(scheme, "information"), on_list(scheme, "patrol")
    services, coordination = on_list(scheme, "community-service"), on_list(scheme, "coordination")
    assert information == {f"190{i:02d}" for i in range(1, 9)}
    assert information | patrol == tier_codes("GRID") and not information & patrol
    assert services | coordination == tier_codes("COMMUNITY") and not services & coordination
    assert {"13001", "14001"} <= services and "16001" in coordination
    for code in tier_codes("DEPARTMENT"):
        assert not matter_admitted(matter=Matter.objects.get(code=code), scheme=scheme)


@pytest.mark.parametrize("module", [licheng, xiangyang])
def test_licheng_and_xiangyang_one_grid_duty_list(superuser, module):
    scheme, _report = apply(module, superuser=superuser)
    assert list(DutyList.objects.filter(scheme=scheme).values_list("key", "duty_tier", "admits_to_grid")) == [
        ("grid", "GRID", True)]
    assert on_list(scheme, "grid") == tier_codes("GRID")
    assert community_level(scheme).key == "community"
    assert RoutingRule.objects.filter(scheme=scheme, target=AssigneeKind.COMMUNITY,
                                      community_level__key="community").count() == len(tier_codes("COMMUNITY"))


def test_every_profile_declares_a_loop():
    for module in (haimen, licheng, luohu, pinggu, xiangyang):
        profile = profile_get(module.PROFILE.key)
        assert profile.loop is module.LOOP and profile.loop.duty_lists


def test_demo_cases_run_through_the_loaded_profile():
    from gridgov.cases.models import Case, CaseEvent
    from gridgov.seed.demo_cases import demo_cases

    # given the loaded village with its loop configuration and its demo department handler
    scheme = profile_load(profile_get("pinggu")).scheme
    handler = get_user_model().objects.get(username="pinggu_dept")
    assert not Team.objects.filter(department__scheme=scheme, name=Team.DEFAULT_NAME).exclude(members=handler).exists()
    # when demo cases are made through the services
    report = demo_cases(scheme=scheme, count=12)
    # then every step was allowed by the configuration and each case's events tell its story
    assert report.created == 12 and not report.refused
    assert Case.objects.filter(scheme=scheme).count() == 12
    assert CaseEvent.objects.filter(case__scheme=scheme, kind="report").count() == 12


def test_licheng_lets_the_reporter_verify_and_the_others_leave_it_to_the_centre(superuser):
    from gridgov.cases.models import CasePolicy

    # given every profile's loop applied
    policies = {}
    for module in (haimen, licheng, luohu, pinggu, xiangyang):
        scheme, _report = apply(module, superuser=superuser)
        policies[module.PROFILE.key] = CasePolicy.objects.get(scheme=scheme).reporter_verifies
    # then only Licheng's residents confirm the fix themselves (核查反馈), by configuration
    assert policies == {"haimen": False, "licheng": True, "luohu": False, "pinggu": False, "xiangyang": False}
