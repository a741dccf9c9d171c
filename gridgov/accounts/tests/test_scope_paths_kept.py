"""A user's territory (`user_scope_paths`) is kept per process: the kept paths are those read from the
database, for every kind of viewer; a second request reads no row for them; and an edit of an assignment,
a role or a node is seen at once (their counters, `core.versioned`). Counted on committed rows, outside a
transaction, as a request runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gridgov.accounts import services
from gridgov.accounts.models import Assignment, User
from gridgov.accounts.selectors import _scope_paths_read, user_scope_paths
from gridgov.accounts.tests.factories import make_role, make_staff
from gridgov.core.versioned import versions_pinned
from gridgov.territory.models import Node
from gridgov.territory.tests.factories import make_scheme, make_tree

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def viewers():
    scheme = make_scheme()
    tree = make_tree(scheme)
    grid = make_staff(tree["g1"])
    community = make_staff(tree["community"])
    helper = make_staff(tree["g2"], role=make_role(scheme, key="helper", levels=("grid",), grants_scope=False))
    district = services.staff_user_create(username="district_op", password="Grid-demo-2026!", sees_everything=True,
                                          scheme=scheme)
    nobody = services.staff_user_create(username="nobody", password="Grid-demo-2026!")
    return scheme, tree, {"grid": grid, "community": community, "helper": helper, "district": district,
                          "nobody": nobody}


def fresh(user) -> User:
    return User.objects.get(pk=user.pk)  # as a request loads its user: no per-request cache on it


def read(user):
    """The paths as a request asks them: counters pinned for the request, the user loaded anew."""
    user = fresh(user)
    with versions_pinned(), CaptureQueriesContext(connection) as ctx:
        paths = user_scope_paths(user)
    return paths, [q["sql"] for q in ctx.captured_queries]


def test_the_kept_paths_are_those_read_for_every_kind_of_viewer(viewers):
    _scheme, tree, users = viewers
    for name, user in users.items():
        # when each viewer's territory is asked twice, as two requests would
        first, _sql = read(user)
        second, sql = read(user)
        # then both answers are what the database says today, and the second read no row of assignments
        assert first == second == _scope_paths_read(fresh(user), timezone.localdate()), name
        assert [s for s in sql if "core_configversion" not in s] == [], name
    assert read(users["grid"])[0] == [tree["g1"].path]
    assert read(users["community"])[0] == [tree["community"].path]
    assert read(users["district"])[0] == [tree["district"].path]
    assert read(users["helper"])[0] == read(users["nobody"])[0] == []


def test_a_new_or_ended_assignment_is_seen_by_the_next_request(viewers):
    scheme, tree, users = viewers
    grid = users["grid"]
    assert read(grid)[0] == [tree["g1"].path]
    # when the grid worker is also put in charge of the second grid
    role = make_role(scheme, key="staff_grid")
    extra = services.assignment_create(person=grid.person, node=tree["g2"], role=role,
                                       start_date=timezone.localdate() - dt.timedelta(days=10))
    # then the next request sees both grids
    assert read(grid)[0] == sorted([tree["g1"].path, tree["g2"].path])
    # and when that assignment ends yesterday, only the first again
    services.assignment_end(extra, end_date=timezone.localdate() - dt.timedelta(days=1))
    assert read(grid)[0] == [tree["g1"].path]


def test_a_role_or_a_node_edited_is_seen_by_the_next_request(viewers):
    _scheme, tree, users = viewers
    grid = users["grid"]
    assert read(grid)[0] == [tree["g1"].path]
    # when the role stops granting a territory (any write path: here an UPDATE of the rows)
    role_id = Assignment.objects.get(person__user=grid).role_id
    type(Assignment.objects.get(person__user=grid).role).objects.filter(pk=role_id).update(grants_scope=False)
    # then the next request sees nothing
    assert read(grid)[0] == []
    # and when it grants again but the cell is retired, still nothing; once back in force, the cell
    type(Assignment.objects.get(person__user=grid).role).objects.filter(pk=role_id).update(grants_scope=True)
    assert read(grid)[0] == [tree["g1"].path]
    Node.objects.filter(pk=tree["g1"].pk).update(valid_to=timezone.localdate())
    assert read(grid)[0] == []
    Node.objects.filter(pk=tree["g1"].pk).update(valid_to=None)
    assert read(grid)[0] == [tree["g1"].path]


def test_inside_a_transaction_that_read_no_counters_the_rows_are_read_as_before(viewers, django_assert_num_queries):
    from django.db import transaction

    _scheme, tree, users = viewers
    user = fresh(users["grid"])
    # given a transaction (a service, a test) outside a request: the counters are not at hand
    with transaction.atomic(), django_assert_num_queries(1):
        # then the territory costs its one read, no read of the counters beside it
        assert user_scope_paths(user) == [tree["g1"].path]
