"""How intake reads the duplicates it offers: the cases found near enough come from a statement compiled
once per count of them (`selectors._cases_near`), the same instances `in_bulk` gives; which of them the
caller sees (`case_scope_ids`) is `case_scope`'s answer, with the territory part read from the cases' loaded
cells."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from gridgov.accounts import services as account_services
from gridgov.accounts.models import User
from gridgov.cases import selectors
from gridgov.cases.models import Case, Channel
from gridgov.cases.selectors import NEAR_COMPILED, case_duplicates, case_scope, case_scope_ids
from gridgov.cases.services.intake import case_report
from gridgov.cases.tests.factories import make_loop, point_in

pytestmark = pytest.mark.django_db


def _report(loop, actor, node, i: int, *, step: float = 0.00002) -> Case:
    lon, lat = point_in(node)
    return case_report(actor=actor, channel=Channel.HOTLINE, scheme=loop.scheme, matter="02001", lon=lon,
                       lat=lat + i * step, description=f"占道经营 {i}").case


def _fields(case: Case) -> dict:
    return {f.attname: getattr(case, f.attname) for f in Case._meta.concrete_fields}


@pytest.mark.parametrize("neighbours", [1, 2, NEAR_COMPILED + 1])
def test_the_duplicates_read_are_the_cases_in_bulk_gives(scheme, tree, neighbours):
    # given a case with `neighbours` open cases of the same matter a few metres away
    loop = make_loop(scheme, tree)
    near = [_report(loop, loop.office, tree["g1"], i) for i in range(neighbours)]
    case = _report(loop, loop.office, tree["g1"], neighbours)
    # when its duplicates are read
    rows = case_duplicates(case)
    # then they are those cases, field for field as in_bulk reads them, with their cell and matter loaded
    expected = Case.objects.select_related("node", "matter").in_bulk([c.pk for c in near])
    assert sorted(c.pk for c, _d in rows) == sorted(expected)
    with CaptureQueriesContext(connection) as ctx:
        for got, _d in rows:
            assert _fields(got) == _fields(expected[got.pk])
            assert (got.node.path, got.matter.code) == (expected[got.pk].node.path, expected[got.pk].matter.code)
    assert ctx.captured_queries == []


def test_the_duplicates_of_a_count_already_read_are_read_without_compiling(scheme, tree, monkeypatch):
    # given two cases with one neighbour each, the first one's duplicates read once
    loop = make_loop(scheme, tree)
    first = _report(loop, loop.office, tree["g1"], 0)
    second = _report(loop, loop.office, tree["g1"], 1)
    third = _report(loop, loop.office, tree["g2"], 0)
    fourth = _report(loop, loop.office, tree["g2"], 1)
    selectors._NEAR[1].clear()
    assert [c.pk for c, _d in case_duplicates(second)] == [first.pk]
    compiled = []
    original = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        compiled.append(self.query.model)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    # when the other one's duplicates are read
    rows = case_duplicates(fourth)
    # then the ORM compiled no read of cases (the policy may be read): the statement of one duplicate was kept
    assert [c.pk for c, _d in rows] == [third.pk]
    assert Case not in compiled


def test_the_duplicates_a_caller_sees_are_those_case_scope_gives(scheme, tree):
    # given cases in both grids, one in g2 taken by g1's grid worker on the hotline (they own it)
    loop = make_loop(scheme, tree)
    cases = [_report(loop, loop.office, tree["g1"], 0), _report(loop, loop.office, tree["g2"], 0),
             _report(loop, loop.worker, tree["g2"], 1)]
    ids = [c.pk for c in cases]
    inactive = account_services.staff_user_create(username="gone", password="Grid-demo-2026!")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    superuser = User.objects.create_superuser(username="root-dup", password="Grid-demo-2026!")
    viewers = [loop.office, loop.worker, loop.worker2, loop.centre, loop.handler, loop.leader,
               User.objects.get(pk=inactive.pk), superuser, AnonymousUser(), None]
    seen = []
    for viewer in viewers:
        viewer = User.objects.get(pk=viewer.pk) if isinstance(viewer, User) else viewer  # no cached scope
        loaded = list(Case.objects.select_related("node").filter(pk__in=ids))
        # when each asks which of the cases they see
        got = case_scope_ids(loaded, viewer)
        # then it is what case_scope answers
        fresh = User.objects.get(pk=viewer.pk) if isinstance(viewer, User) else viewer
        assert got == set(case_scope(Case.objects.filter(pk__in=ids), fresh).values_list("pk", flat=True)), viewer
        seen.append(got)
    # and the viewers differ: all three (the office), g1's and the one the worker owns in g2 (read by
    # case_scope: outside their territory), g2's two, none
    assert seen[:3] == [set(ids), {ids[0], ids[2]}, {ids[1], ids[2]}]
    assert set() in seen


def test_duplicates_inside_the_callers_territory_need_no_statement_but_the_scope(scheme, tree):
    # given g1's grid worker and two cases in g1
    loop = make_loop(scheme, tree)
    cases = list(Case.objects.select_related("node").filter(pk__in=[
        _report(loop, loop.office, tree["g1"], i).pk for i in range(2)]))
    worker = User.objects.get(pk=loop.worker.pk)
    # when the worker's view of them is asked
    with CaptureQueriesContext(connection) as ctx:
        got = case_scope_ids(cases, worker)
    # then both are seen, from the worker's territory alone (one statement: the paths of their assignments)
    assert got == {c.pk for c in cases}
    assert len(ctx.captured_queries) == 1, [q["sql"] for q in ctx.captured_queries]
