import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from gridgov.territory import services
from gridgov.territory.models import IssuedCode, Node, NodeLineage
from gridgov.territory.selectors import node_tree_as_of
from gridgov.territory.tests.factories import level, square

pytestmark = pytest.mark.django_db


def test_grid_codes_extend_the_parent_code(tree):
    assert tree["g1"].code == "110117213202001"
    assert tree["g2"].code == "110117213202002"
    assert tree["g1"].path == f"{tree['community'].path}{tree['g1'].pk}/"


def test_area_and_centroid_are_computed(tree):
    g1 = tree["g1"]
    # 0.05° lon x 0.1° lat at 40°N ≈ 4.26 km x 11.1 km
    assert 46e6 < g1.area_m2 < 48e6
    assert g1.centroid_lon == pytest.approx(116.025)
    assert g1.centroid_lat == pytest.approx(40.05)


@pytest.mark.parametrize(
    ("lvl", "code", "reason"),
    [
        ("street", "11011721300", "12-digit"),
        ("street", "110117213001", "significant digits"),
        ("street", "120117213000", "parent's code"),
    ],
)
def test_bad_admin_codes_are_refused_naming_the_field(tree, scheme, lvl, code, reason):
    with pytest.raises(ValidationError) as err:
        services.node_create(level=level(scheme, lvl), parent=tree["district"], name="x", code=code)
    assert "code" in err.value.message_dict
    assert reason in err.value.message_dict["code"][0]


def test_grid_code_must_extend_parent(tree, scheme):
    with pytest.raises(ValidationError) as err:
        services.node_create(level=level(scheme, "grid"), parent=tree["community"], name="x", code="110117213203001")
    assert "followed by 3 digits" in err.value.message_dict["code"][0]


def test_polygon_outside_parent_is_refused(tree, scheme):
    before = Node.objects.count()
    with pytest.raises(ValidationError) as err:
        services.node_create(level=level(scheme, "microgrid"), parent=tree["g1"], name="x", auto_code=True,
                             geometry=square(116.04, 40.0, 116.06, 40.01))
    assert "outside its parent" in err.value.message_dict["geometry"][0]
    assert Node.objects.count() == before


def test_self_intersecting_polygon_is_refused(tree, scheme):
    bowtie = {"type": "Polygon", "coordinates": [[[116.0, 40.0], [116.01, 40.01], [116.01, 40.0],
                                                  [116.0, 40.01], [116.0, 40.0]]]}
    with pytest.raises(ValidationError) as err:
        services.node_create(level=level(scheme, "microgrid"), parent=tree["g1"], name="x", auto_code=True,
                             geometry=bowtie)
    assert "Self-intersection" in err.value.message_dict["geometry"][0]


def test_level_must_be_deeper_than_parent(tree, scheme):
    with pytest.raises(ValidationError) as err:
        services.node_create(level=level(scheme, "street"), parent=tree["g1"], name="x", code="110117214000")
    assert "level" in err.value.message_dict


def test_split_retires_old_gives_new_codes_and_moves_children(tree, scheme):
    g1 = tree["g1"]
    child = services.node_create(level=level(scheme, "microgrid"), parent=g1, name="南", auto_code=True,
                                 geometry=square(116.0, 40.0, 116.05, 40.05))
    on = dt.date.today() + dt.timedelta(days=1)
    north, south = services.node_split(g1, parts=[
        {"name": "北", "geometry": square(116.0, 40.05, 116.05, 40.1)},
        {"name": "南", "geometry": square(116.0, 40.0, 116.05, 40.05)},
    ], effective_date=on, reason="too big")
    g1.refresh_from_db()
    child.refresh_from_db()
    assert g1.valid_to == on
    assert (north.code, south.code) == ("110117213202003", "110117213202004")
    assert child.parent_id == south.pk
    assert child.code == "110117213202004001"
    assert NodeLineage.objects.filter(predecessor=g1).count() == 2
    # the old code is still issued and can never be given again
    assert IssuedCode.objects.filter(code="110117213202001").exists()
    with pytest.raises(ValidationError):
        services.node_create(level=level(scheme, "grid"), parent=tree["community"], name="x", code="110117213202001")


def test_merge_unions_polygons_and_moves_children(tree, scheme):
    on = dt.date.today() + dt.timedelta(days=1)
    merged = services.node_merge([tree["g1"], tree["g2"]], name="合并网格", effective_date=on)
    assert merged.code == "110117213202003"
    assert merged.area_m2 == pytest.approx(tree["community"].area_m2, rel=1e-6)
    assert Node.objects.get(pk=tree["g1"].pk).valid_to == on


def test_move_keeps_history_queryable_as_of_past_date(tree, scheme):
    other = services.node_create(level=level(scheme, "community"), parent=tree["street"], name="另一社区",
                                 code="110117213203", geometry=square(116.0, 40.0, 116.1, 40.1),
                                 valid_from=dt.date(2020, 1, 1))
    on = dt.date.today() + dt.timedelta(days=10)
    services.node_move(tree["g1"], new_parent=other, effective_date=on, reason="插花地移交")
    g1 = Node.objects.get(pk=tree["g1"].pk)
    assert g1.parent_id == other.pk
    assert g1.code == "110117213203001"
    assert g1.path.startswith(other.path)
    before = node_tree_as_of(on=on - dt.timedelta(days=1), scheme=scheme, root_id=tree["community"].pk)[0]
    after = node_tree_as_of(on=on, scheme=scheme, root_id=tree["community"].pk)[0]
    assert "110117213202001" in [c["code"] for c in before["children"]]
    assert "110117213202001" not in [c["code"] for c in after["children"]]


def test_cannot_move_under_own_descendant(tree, scheme):
    with pytest.raises(ValidationError) as err:
        services.node_move(tree["street"], new_parent=tree["g1"])
    assert "new_parent" in err.value.message_dict


def test_assign_codes_in_reading_order(tree, scheme):
    g1 = tree["g1"]
    cells = {}
    for name, (x, y) in {"sw": (0, 0), "se": (1, 0), "nw": (0, 1), "ne": (1, 1)}.items():
        x0, y0 = 116.0 + x * 0.025, 40.0 + y * 0.05
        cells[name] = services.node_create(level=level(scheme, "microgrid"), parent=g1, name=name,
                                           geometry=square(x0, y0, x0 + 0.025, y0 + 0.05))
    services.node_assign_codes(parent=g1)
    codes = {name: Node.objects.get(pk=n.pk).code[-3:] for name, n in cells.items()}
    assert codes == {"nw": "001", "ne": "002", "sw": "003", "se": "004"}
