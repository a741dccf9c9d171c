"""Property: no sequence of splits, merges, moves, recodes and retirements breaks the tree's invariants."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridgov.territory import geometry as geo
from gridgov.territory import services
from gridgov.territory.models import IssuedCode, Node, NodeVersion
from gridgov.territory.tests.factories import level, square

pytestmark = pytest.mark.django_db

OPS = st.lists(st.tuples(st.sampled_from(["split", "merge", "move", "recode", "retire", "add"]),
                         st.integers(0, 1000), st.integers(0, 1000)), min_size=1, max_size=12)


def _check_invariants(scheme):
    nodes = {n.pk: n for n in Node.objects.filter(scheme=scheme).select_related("level")}
    codes = [n.code for n in nodes.values() if n.code]
    assert len(codes) == len(set(codes)), "a code is used twice"
    issued = set(IssuedCode.objects.filter(scheme=scheme).values_list("code", flat=True))
    assert set(codes) <= issued, "a node code was never recorded as issued"
    for n in nodes.values():
        parent = nodes.get(n.parent_id)
        expected = f"{parent.path}{n.pk}/" if parent else f"/{n.pk}/"
        assert n.path == expected, f"path of {n} is {n.path}, expected {expected}"
        if n.is_active:
            assert NodeVersion.objects.filter(node=n, valid_to__isnull=True).count() == 1
            if parent is not None:
                assert parent.is_active, f"{n} is active under retired {parent}"
                assert parent.level.depth < n.level.depth
                if n.level.code_digits and n.code:
                    assert n.code.startswith(parent.code) and len(n.code) == len(parent.code) + n.level.code_digits
                if n.geometry and parent.geometry:
                    outside = geo.outside_area_m2(geo.parse_geometry(n.geometry), geo.parse_geometry(parent.geometry))
                    assert outside <= max(1.0, n.area_m2 * 1e-6)
        else:
            assert not NodeVersion.objects.filter(node=n, valid_to__isnull=True).exists()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_reorganisations_keep_invariants(tree, scheme, ops):
    with transaction.atomic():
        day = dt.date.today()
        community = tree["community"]
        for i, (op, a, b) in enumerate(ops):
            day += dt.timedelta(days=1)
            grids = list(Node.objects.filter(scheme=scheme, level__key="grid").current().order_by("pk"))
            try:
                with transaction.atomic():
                    if op == "add" or not grids:
                        # a grid without a drawn boundary yet, with one micro-grid
                        free = services.node_create(level=level(scheme, "grid"), parent=community, name=f"新{i}",
                                                    auto_code=True, valid_from=day)
                        services.node_create(level=level(scheme, "microgrid"), parent=free, name=f"微{i}",
                                             auto_code=True, valid_from=day)
                    elif op == "split":
                        g = grids[a % len(grids)]
                        if g.geometry:
                            x0, y0, x1, y1 = g.min_lon, g.min_lat, g.max_lon, g.max_lat
                            ym = y0 + (y1 - y0) * (0.25 + (b % 50) / 100)
                            services.node_split(g, parts=[{"name": "甲", "geometry": square(x0, y0, x1, ym)},
                                                          {"name": "乙", "geometry": square(x0, ym, x1, y1)}],
                                                effective_date=day)
                        else:
                            services.node_split(g, parts=[{"name": "甲"}, {"name": "乙"}], effective_date=day)
                    elif op == "merge" and len(grids) >= 2:
                        first, second = grids[a % len(grids)], grids[b % len(grids)]
                        if first.pk != second.pk:
                            services.node_merge([first, second], name="合", effective_date=day)
                    elif op == "move":
                        micros = list(Node.objects.filter(scheme=scheme, level__key="microgrid").current())
                        if micros and len(grids) >= 2:
                            m = micros[a % len(micros)]
                            target = grids[b % len(grids)]
                            if target.pk != m.parent_id and not (m.geometry and target.geometry):
                                services.node_move(m, new_parent=target, effective_date=day)
                    elif op == "recode":
                        services.node_assign_codes(parent=community, recode_all=bool(b % 2))
                    elif op == "retire":
                        leaves = [g for g in grids if not g.children.current().exists()]
                        if leaves:
                            services.node_retire(leaves[a % len(leaves)], effective_date=day)
            except ValidationError:
                pass  # a refused operation must leave nothing behind: the invariants below still hold
            _check_invariants(scheme)
        transaction.set_rollback(True)
