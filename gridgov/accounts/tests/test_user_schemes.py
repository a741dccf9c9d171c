"""The two rules of which level schemes a user is in: `user_schemes` (the schemes they work in, for what they
read and pick from) and `user_territory_schemes` (the schemes holding a cell of their territory, for the
territorial writes: routing rules, base-data imports)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from gridgov.accounts import services
from gridgov.accounts.models import RoleCategory
from gridgov.accounts.selectors import user_schemes, user_territory_schemes
from gridgov.accounts.tests.factories import make_role, make_staff
from gridgov.catalogue.tests.factories import make_department, make_duty_list
from gridgov.territory.tests.factories import make_scheme, make_tree


@pytest.fixture
def two_schemes(db):
    a, b = make_scheme("alpha"), make_scheme("beta")
    return {"A": a, "B": b, "a": make_tree(a), "b": make_tree(b, origin=(114.1, 22.5))}


def keys(qs) -> set[str]:
    return set(qs.values_list("key", flat=True))


def both(user) -> tuple[set[str], set[str]]:
    return keys(user_schemes(user)), keys(user_territory_schemes(user))


def login_without_assignments(username: str, **kwargs):
    return services.staff_user_create(username=username, password="Grid-demo-2026!", **kwargs)


def test_a_platform_wide_user_is_in_every_scheme(two_schemes):
    # given a login holding the platform role
    user = login_without_assignments("platform")
    user.platform_wide = True
    user.save(update_fields=["platform_wide"])
    # when / then
    assert both(user) == ({"alpha", "beta"}, {"alpha", "beta"})


def test_a_district_wide_operator_is_in_their_own_scheme_only(two_schemes):
    # given Alpha's district operator
    user = login_without_assignments("alpha_admin", sees_everything=True, scheme=two_schemes["A"])
    # when / then
    assert both(user) == ({"alpha"}, {"alpha"})


def test_a_district_wide_operator_works_in_their_scheme_before_it_has_cells(db):
    # given a new deployment without a single cell yet, and its district operator
    empty = make_scheme("empty")
    user = login_without_assignments("empty_admin", sees_everything=True, scheme=empty)
    # when / then: they work in it (pick it to import its grid map), but no cell of it is their territory
    assert both(user) == ({"empty"}, set())


def test_a_grid_worker_is_in_the_scheme_of_their_grid(two_schemes):
    # given a grid worker of Alpha's first grid
    user = make_staff(two_schemes["a"]["g1"], role=make_role(two_schemes["A"]))
    # when / then
    assert both(user) == ({"alpha"}, {"alpha"})


def test_a_helper_whose_role_grants_no_scope_is_in_no_scheme(two_schemes):
    # given a 1+N helper of Alpha's grid: the role lets them report but grants no territory
    helper = make_role(two_schemes["A"], key="helper", grants_scope=False)
    user = make_staff(two_schemes["a"]["g1"], role=helper)
    # when / then
    assert both(user) == (set(), set())


def test_a_department_handler_works_in_the_scheme_but_holds_no_territory_in_it(two_schemes):
    # given a member of a team of Alpha's water bureau, in charge of no cell
    user = login_without_assignments("water_handler")
    make_department(two_schemes["A"], members=[user])
    # when / then
    assert both(user) == ({"alpha"}, set())


def test_a_grid_worker_who_also_handles_for_a_department_of_another_scheme(two_schemes):
    # given Alpha's grid worker who is also on a team of Beta's water bureau
    user = make_staff(two_schemes["a"]["g1"], role=make_role(two_schemes["A"]))
    make_department(two_schemes["B"], members=[user])
    # when / then: they work in both, their territory is in Alpha only
    assert both(user) == ({"alpha", "beta"}, {"alpha"})


def test_nobody_is_in_no_scheme(two_schemes):
    # given a login in charge of nothing, on no team, and an anonymous visitor
    user = login_without_assignments("nobody")
    # when / then
    assert both(user) == (set(), set())
    assert both(AnonymousUser()) == (set(), set())


def test_an_inactive_team_member_is_in_no_scheme(two_schemes):
    # given a department handler whose login was switched off
    user = login_without_assignments("gone")
    make_department(two_schemes["A"], members=[user])
    user.is_active = False
    user.save(update_fields=["is_active"])
    # when / then
    assert both(user) == (set(), set())


# ----------------------------------------------------------------------- the callers whose rule changed
def test_the_duty_lists_page_leaves_out_a_scheme_where_the_user_only_helps(client, two_schemes):
    # given Alpha's street grid office, who is also a 1+N helper (no scope) in a grid of Beta; both schemes
    # have a duty list
    office = services.role_create(scheme=two_schemes["A"], key="office", name_zh="网格办", category=RoleCategory.OFFICE,
                                  levels=("street",))
    user = make_staff(two_schemes["a"]["street"], role=office)
    helper = make_role(two_schemes["B"], key="helper", grants_scope=False)
    services.assignment_create(person=user.person, node=two_schemes["b"]["g1"], role=helper)
    make_duty_list(two_schemes["A"], name_zh="甲区网格员自办清单")
    make_duty_list(two_schemes["B"], name_zh="乙区网格员自办清单")
    client.force_login(user)
    # when
    res = client.get(reverse("manage:duty_lists"))
    # then: Beta's list is not theirs to read (the old rule counted every current assignment's scheme)
    assert res.status_code == 200
    body = res.content.decode()
    assert "甲区网格员自办清单" in body
    assert "乙区网格员自办清单" not in body
