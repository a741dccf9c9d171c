"""Property: whatever the tree and the assignments, a user sees exactly the subtrees of their
scope-granting assignments (plus nothing else), and out-of-scope objects answer 404 in the API."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from gridgov.accounts import services
from gridgov.accounts.models import Assignment
from gridgov.accounts.selectors import assignment_scope
from gridgov.accounts.tests.factories import make_role, make_staff
from gridgov.territory import services as territory
from gridgov.territory.models import Node
from gridgov.territory.selectors import node_scope
from gridgov.territory.tests.factories import level

pytestmark = pytest.mark.django_db


def _descendants_or_self(node_ids, all_nodes):
    chosen = [n for n in all_nodes if n.pk in node_ids]
    return {n.pk for n in all_nodes if any(n.path.startswith(c.path) for c in chosen)}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_scope_is_exactly_the_assigned_subtrees(tree, scheme, data):
    with transaction.atomic():  # each example starts from the same tree
        # given micro-grids under each grid, and a user with random assignments
        for g in (tree["g1"], tree["g2"]):
            territory.node_create(level=level(scheme, "microgrid"), parent=g, name=f"{g.name}-1", auto_code=True)
        all_nodes = list(Node.objects.filter(scheme=scheme).order_by("pk"))
        picks = data.draw(st.lists(st.sampled_from(all_nodes), max_size=3, unique_by=lambda n: n.pk))
        grants = [data.draw(st.booleans()) for _ in picks]
        person = services.person_create(name="测试")
        person.user = get_user_model().objects.create(username="scoped")
        person.save()
        user = person.user
        role = make_role(scheme, "any_level", levels=())
        silent = make_role(scheme, "no_scope", levels=(), grants_scope=False)
        for node, grant in zip(picks, grants, strict=True):
            services.assignment_create(person=person, node=node, role=role if grant else silent)
        granting = {n.pk for n, g in zip(picks, grants, strict=True) if g}
        # when
        visible = set(node_scope(Node.objects.all(), user).values_list("pk", flat=True))
        # then
        assert visible == _descendants_or_self(granting, all_nodes)
        visible_assignments = set(assignment_scope(Assignment.objects.all(), user).values_list("node_id", flat=True))
        assert visible_assignments <= visible
        transaction.set_rollback(True)


def test_ended_assignment_no_longer_grants_scope(tree, scheme):
    # given a worker in charge of g1 since last year
    person = services.person_create(name="王芳")
    person.user = get_user_model().objects.create(username="ended")
    person.save()
    today = dt.date.today()
    old_grid = territory.node_create(level=level(scheme, "grid"), parent=tree["community"], name="老网格",
                                     auto_code=True, valid_from=today - dt.timedelta(days=400))
    a = services.assignment_create(person=person, node=old_grid, role=make_role(scheme),
                                   start_date=today - dt.timedelta(days=365))
    assert node_scope(Node.objects.all(), person.user).filter(pk=old_grid.pk).exists()
    # when the assignment ended yesterday
    services.assignment_end(a, end_date=today - dt.timedelta(days=1))
    # then nothing is visible any more
    user = get_user_model().objects.get(pk=person.user.pk)
    assert not node_scope(Node.objects.all(), user).exists()


def test_out_of_scope_node_is_404_in_the_api(tree, scheme):
    user = make_staff(tree["g1"])
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(f"/api/territory/nodes/{tree['g1'].pk}/").status_code == 200
    assert client.get(f"/api/territory/nodes/{tree['g2'].pk}/").status_code == 404
    assert client.get(f"/api/territory/nodes/{tree['community'].pk}/").status_code == 404
    listed = {n["id"] for n in client.get("/api/territory/nodes/").json()["results"]}
    assert listed == {tree["g1"].pk}
