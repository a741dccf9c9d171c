import json

import numpy as np
import pytest
import shapely
from django.core.exceptions import ValidationError
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.territory import locate as locating
from gridgov.territory import services
from gridgov.territory.models import Node
from gridgov.territory.tests.factories import level, make_scheme, make_tree, square

pytestmark = pytest.mark.django_db


def test_point_goes_to_the_deepest_cell(tree, scheme):
    # given a micro-grid inside grid g1
    micro = services.node_create(level=level(scheme, "microgrid"), parent=tree["g1"], name="微网格一", auto_code=True,
                                 geometry=square(116.0, 40.0, 116.01, 40.01))
    # when / then
    assert locating.locate(116.005, 40.005) == micro
    assert locating.locate(116.03, 40.05) == tree["g1"]
    assert locating.locate(116.07, 40.05) == tree["g2"]


def test_point_outside_every_cell_is_none(tree):
    assert locating.locate(117.5, 41.0) is None
    assert locating.locate_id(0, 0) is None


def test_shared_edge_is_decided_deterministically(tree):
    # the edge lon=116.05 is shared by g1 and g2 (same depth and area): the lower id wins, every time
    results = {locating.locate_id(116.05, 40.05) for _ in range(5)}
    assert results == {min(tree["g1"].pk, tree["g2"].pk)}


@pytest.mark.parametrize(("lon", "lat"), [(181, 0), (0, 91), ("x", 0), (float("nan"), 0)])
def test_bad_coordinates_are_refused(tree, lon, lat):
    with pytest.raises(ValueError, match=r"lon|lat"):
        locating.locate(lon, lat)


def test_retired_cells_are_not_found(tree, scheme):
    import datetime as dt

    on = dt.date.today()
    services.node_merge([tree["g1"], tree["g2"]], name="合并", effective_date=on + dt.timedelta(days=1))
    node = locating.locate(116.03, 40.05)
    assert node.name == "合并"


def test_scheme_filter(tree, scheme):
    other = make_scheme()
    make_tree(other, origin=(116.0, 40.0))
    assert locating.locate(116.03, 40.05, scheme=scheme).scheme_id == scheme.pk
    assert locating.locate(116.03, 40.05, scheme=other).scheme_id == other.pk


@pytest.mark.usefixtures("tree")
@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(115.95, 116.15), st.floats(39.95, 40.15)), min_size=1, max_size=40))
def test_bulk_agrees_with_single_and_with_brute_force(points):
    nodes = list(Node.objects.current().exclude(geometry=None).select_related("level"))
    assert nodes
    lons, lats = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    bulk = locating.locate_many(lons, lats)
    for (lon, lat), got in zip(points, bulk, strict=True):
        single = locating.locate_id(lon, lat)
        assert (single if single is not None else -1) == got
        holders = [n for n in nodes if shapely.from_geojson(json.dumps(n.geometry)).intersects(shapely.Point(lon, lat))]
        if not holders:
            assert got == -1
        else:
            deepest = max(n.level.depth for n in holders)
            assert got in {n.pk for n in holders if n.level.depth == deepest}


@pytest.mark.django_db(transaction=True)
def test_index_is_cached_and_rebuilt_when_another_process_bumps_the_version():
    # given an index built outside any transaction
    scheme = make_scheme()
    tree = make_tree(scheme)
    locating.index_clear()
    first = locating.spatial_index()
    assert locating.spatial_index() is first  # cached while the version is unchanged
    # when another process adds a cell and bumps the version (simulated with raw SQL, as it would arrive)
    new = Node.objects.get(pk=tree["g1"].pk)
    with connection.cursor() as cur:
        cur.execute("UPDATE territory_territoryversion SET value = value + 1 WHERE id = 1")
    # then the next call rebuilds
    second = locating.spatial_index()
    assert second is not first
    assert second.version == first.version + 1
    assert locating.locate_id(116.01, 40.01) == new.pk


def test_bulk_rejects_bad_points(tree):
    with pytest.raises(ValueError, match="point 1"):
        locating.locate_many([116.0, 200.0], [40.0, 40.0])


# ----------------------------------------------------------------------------------- cell_resolve
def _errors(exc_info) -> dict[str, list[str]]:
    return exc_info.value.message_dict


def test_cell_resolve_finds_the_cell_by_instance_code_or_id(tree, scheme):
    g1 = tree["g1"]
    assert locating.cell_resolve(scheme=scheme, node=g1) == g1
    assert locating.cell_resolve(scheme=scheme, node=g1.code) == g1
    assert locating.cell_resolve(scheme=scheme, node=str(g1.pk)) == g1


def test_cell_resolve_refuses_an_unknown_a_foreign_or_a_retired_cell(tree, scheme):
    # given a cell of another scheme and a retired cell of this one
    other = make_tree(make_scheme("other"), origin=(114.1, 22.5))["g1"]
    services.node_retire(tree["g2"])
    tree["g2"].refresh_from_db()
    # when / then: under the caller's field name
    with pytest.raises(ValidationError) as unknown:
        locating.cell_resolve(scheme=scheme, node="X999", node_field="address_id")
    assert _errors(unknown) == {"address_id": ["unknown cell X999"]}
    with pytest.raises(ValidationError) as foreign:
        locating.cell_resolve(scheme=scheme, node=other)
    assert _errors(foreign) == {"node": ["the cell belongs to another level scheme"]}
    with pytest.raises(ValidationError) as retired:
        locating.cell_resolve(scheme=scheme, node=tree["g2"])
    assert _errors(retired) == {"node": [f"the cell {tree['g2'].code} is retired"]}


def test_cell_resolve_with_a_cell_and_a_point_gives_the_deepest_cell_inside_it(tree, scheme):
    # given the community, and a point in its grid g1
    community = tree["community"]
    # when / then: the point narrows the cell to g1
    assert locating.cell_resolve(scheme=scheme, node=community, lon=116.03, lat=40.05) == tree["g1"]
    # and a point outside the cell named is refused under the point's field
    with pytest.raises(ValidationError) as outside:
        locating.cell_resolve(scheme=scheme, node=tree["g1"], lon=116.07, lat=40.05, point_field="lat/long")
    assert _errors(outside) == {"lat/long": [f"the point (116.070000, 40.050000) lies outside cell {tree['g1'].code}"]}


def test_cell_resolve_by_point_alone(tree, scheme):
    assert locating.cell_resolve(scheme=scheme, lon=116.07, lat=40.05) == tree["g2"]
    with pytest.raises(ValidationError) as outside:
        locating.cell_resolve(scheme=scheme, lon=10, lat=10)
    assert _errors(outside) == {"location": ["the point (10.000000, 10.000000) lies outside every cell"]}
    with pytest.raises(ValidationError) as bad:
        locating.cell_resolve(scheme=scheme, lon=181, lat=0, coordinates_field="lon")
    assert list(_errors(bad)) == ["lon"]


def test_cell_resolve_with_nothing_named_leaves_the_fallback_to_the_caller(tree, scheme):
    assert locating.cell_resolve(scheme=scheme) is None
    assert locating.cell_resolve(scheme=scheme, node="", lon=116.0, lat=None) is None
