"""The people in charge follow their cell when it is split, merged or retired (accounts is a reorganise
follower, as people is), and every follower receives the heir territory computed once."""

from __future__ import annotations

import datetime as dt

import pytest

from gridgov.accounts.models import Assignment
from gridgov.accounts.tests.factories import make_staff
from gridgov.territory import services
from gridgov.territory.tests.factories import square

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """A follower registered for the test, recording what territory hands to every follower."""
    calls = []

    def record(**kwargs):
        calls.append(kwargs)

    services.REORGANISE_FOLLOWERS.append(record)
    yield calls
    services.REORGANISE_FOLLOWERS.remove(record)


def test_a_split_carries_the_people_in_charge_to_the_heir_every_follower_receives(tree, heard):
    # given a grid worker in charge of g1
    g1 = tree["g1"]
    worker = make_staff(g1)
    on = dt.date.today() + dt.timedelta(days=1)
    # when g1 is split into a small north part and a big south part
    north, south = services.node_split(g1, parts=[
        {"name": "北", "geometry": square(116.0, 40.08, 116.05, 40.1)},
        {"name": "南", "geometry": square(116.0, 40.0, 116.05, 40.08)},
    ], effective_date=on, reason="too big")
    # then the followers heard of the split with the big part as the heir
    assert [(c["predecessor"].pk, c["heir"].pk, [s.pk for s in c["successors"]]) for c in heard] == [
        (g1.pk, south.pk, [north.pk, south.pk])]
    assert heard[0]["reason"] == "too big" and heard[0]["effective_date"] == on
    # and the worker's assignment on g1 ended the day before and opened on the heir
    ended = Assignment.objects.get(person__user=worker, node=g1)
    assert ended.end_date == on - dt.timedelta(days=1) and "too big" in ended.end_reason
    assert Assignment.objects.get(person__user=worker, end_date__isnull=True).node == south


def test_a_merge_carries_the_people_in_charge_to_the_merged_cell(tree, heard):
    # given workers in charge of g1 and g2
    first, second = make_staff(tree["g1"]), make_staff(tree["g2"])
    on = dt.date.today() + dt.timedelta(days=1)
    # when the two grids are merged
    merged = services.node_merge([tree["g1"], tree["g2"]], name="合并网格", effective_date=on)
    # then each follower call names the merged cell as the heir, and both workers are in charge of it
    assert {c["heir"].pk for c in heard} == {merged.pk}
    assert {a.person.user for a in Assignment.objects.current(on).filter(node=merged)} == {first, second}


def test_retiring_a_cell_ends_its_assignments_and_passes_no_heir(tree, heard):
    # given a worker in charge of a micro-grid of g1
    cell = services.node_create(level=tree["g1"].level.scheme.levels.get(key="microgrid"), parent=tree["g1"],
                                name="南", auto_code=True, geometry=square(116.0, 40.0, 116.01, 40.01))
    worker = make_staff(cell)
    on = dt.date.today() + dt.timedelta(days=1)
    # when it is retired
    services.node_retire(cell, effective_date=on, reason="并入邻格")
    # then the followers got no successors and no heir, and the assignment ended the day before
    assert [(c["successors"], c["heir"]) for c in heard] == [([], None)]
    assignment = Assignment.objects.get(person__user=worker, node=cell)
    assert assignment.end_date == on - dt.timedelta(days=1) and "并入邻格" in assignment.end_reason
