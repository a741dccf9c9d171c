"""Role-based home and menu: each user lands on the workspace of what they are, and the login page works
with the lock-out backend."""

import pytest
from django.urls import reverse

from gridgov.accounts import services as account_services
from gridgov.accounts.tests.factories import login_with_two_factors
from gridgov.accounts.workspaces import UserWorkspaces
from gridgov.cases.tests.factories import make_loop
from gridgov.territory.tests.factories import make_scheme, make_tree

pytestmark = pytest.mark.django_db

PASSWORD = "Grid-demo-2026!"


@pytest.fixture
def loop():
    scheme = make_scheme("ws")
    return make_loop(scheme, make_tree(scheme))


def _keys(user) -> list[str]:
    return [w.key for w in UserWorkspaces(user).items]


def test_each_kind_of_user_gets_their_workspaces(loop):
    # given the people of a small loop
    # then the menus follow what each one is
    assert _keys(loop.centre) == ["centre", "dashboard", "cases", "people", "manage"]
    assert _keys(loop.office) == ["centre", "dashboard", "cases", "people", "manage"]
    assert _keys(loop.leader) == ["centre", "dashboard", "cases", "field", "people"]
    assert _keys(loop.worker) == ["cases", "field", "people"]
    assert _keys(loop.handler) == ["cases", "inbox"]
    # and their homes
    assert UserWorkspaces(loop.centre).home.key == "centre"
    assert UserWorkspaces(loop.worker).home.key == "field"
    assert UserWorkspaces(loop.handler).home.key == "inbox"


def test_a_login_with_no_role_has_no_workspace(loop):
    # given a login that holds nothing
    user = account_services.staff_user_create(username="nobody", password=PASSWORD)
    # then
    assert _keys(user) == []
    assert UserWorkspaces(user).home is None


@pytest.mark.parametrize(("who", "home"), [("centre", "/centre/"), ("worker", "/m/"), ("handler", "/inbox/")])
def test_logging_in_lands_on_the_role_home(client, loop, who, home):
    # given
    user = getattr(loop, who)
    # when (staff log in with their password and the code of their authenticator app)
    res = login_with_two_factors(client, user, PASSWORD)
    # then
    assert res.redirect_chain[-1][0] == home
    assert res.status_code == 200


def test_the_menu_marks_the_current_workspace(client, loop):
    # given
    client.force_login(loop.handler)
    # when
    html = client.get(reverse("inbox:index")).content.decode()
    # then
    assert f'href="{reverse("inbox:index")}" aria-current="page"' in html
    assert reverse("centre:index") not in html


def test_a_wrong_password_says_so_and_keeps_the_username(client, loop):
    # when
    res = client.post(reverse("login"), {"username": loop.worker.username, "password": "wrong"})
    # then
    assert res.status_code == 200
    html = res.content.decode()
    assert 'role="alert"' in html
    assert f'value="{loop.worker.username}"' in html
    assert 'for="id_username"' in html and 'for="id_password"' in html


def test_logged_out_visitors_see_the_public_home_and_pages_ask_them_to_log_in(client, loop):
    assert client.get("/").status_code == 200
    res = client.get(reverse("centre:index"))
    assert res.status_code == 302 and res["Location"].startswith(reverse("login"))
