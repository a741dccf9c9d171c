"""nodes_bulk_upsert: the fast path keeps every invariant node_create / node_update keep."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from gridgov.core.models import AuditEntry
from gridgov.territory import services
from gridgov.territory.bulk import NodeRow, nodes_bulk_upsert
from gridgov.territory.codes import code_format_error
from gridgov.territory.models import ChangeKind, IssuedCode, Node, NodeVersion, TerritoryVersion
from gridgov.territory.tests.factories import SINCE, level, square
from gridgov.territory.tests.test_invariants import _check_invariants

pytestmark = pytest.mark.django_db

ON = dt.date(2024, 1, 1)


def _rows() -> list[NodeRow]:
    """A district with two streets, a community under each, and a grid under the first community."""
    return [
        NodeRow(level="district", code="110117000000", name="平谷区", geometry=square(116.0, 40.0, 116.2, 40.1)),
        NodeRow(level="street", code="110117001000", name="滨河街道", parent_code="110117000000",
                geometry=square(116.0, 40.0, 116.1, 40.1)),
        NodeRow(level="street", code="110117002000", name="兴谷街道", parent_code="110117000000"),
        NodeRow(level="community", code="110117001001", name="新平北路社区", parent_code="110117001000",
                attributes={"households": 1200}),
        NodeRow(level="community", code="110117002001", name="兴谷社区", parent_code="110117002000",
                node_type="comprehensive", management_class="2"),
        NodeRow(level="grid", code="110117001001001", name="一网格", parent_code="110117001001"),
    ]


def _counts(scheme) -> tuple[int, int, int]:
    return (Node.objects.filter(scheme=scheme).count(), NodeVersion.objects.filter(node__scheme=scheme).count(),
            IssuedCode.objects.filter(scheme=scheme).count())


def _version() -> int:
    return TerritoryVersion.objects.values_list("value", flat=True).first() or 0


def test_creates_the_tree_with_paths_codes_versions_and_one_version_bump(scheme):
    # given
    before = _version()

    # when
    result = nodes_bulk_upsert(scheme=scheme, rows=_rows(), valid_from=ON, reason="seed")

    # then
    assert dict(result.created) == {"district": 1, "street": 2, "community": 2, "grid": 1}
    assert not result.updated and not result.unchanged
    nodes = {n.code: n for n in Node.objects.filter(scheme=scheme).select_related("level", "node_type",
                                                                                  "management_class")}
    district, street, community, grid = (nodes[c] for c in ("110117000000", "110117001000", "110117001001",
                                                             "110117001001001"))
    assert district.parent_id is None and district.path == f"/{district.pk}/"
    assert street.parent_id == district.pk and street.path == f"/{district.pk}/{street.pk}/"
    assert grid.path == f"/{district.pk}/{street.pk}/{community.pk}/{grid.pk}/"
    assert community.attributes == {"households": 1200}
    assert nodes["110117002001"].node_type.key == "comprehensive"
    assert nodes["110117002001"].management_class.key == "2"
    assert all(n.valid_from == ON and n.valid_to is None for n in nodes.values())
    assert set(IssuedCode.objects.filter(scheme=scheme).values_list("code", flat=True)) == set(nodes)
    versions = NodeVersion.objects.filter(node__scheme=scheme)
    assert versions.count() == 6
    assert {(v.change, v.valid_from, v.valid_to, v.reason) for v in versions} == {(ChangeKind.CREATE, ON, None, "seed")}
    assert result.territory_version == before + 1 == _version()
    _check_invariants(scheme)


def test_a_bulk_node_is_stored_as_node_create_stores_it(scheme):
    # given: the same street created by the service in one scheme and in bulk under the same district
    district = services.node_create(level=level(scheme, "district"), name="平谷区", code="110117000000",
                                    valid_from=SINCE, geometry=square(116.0, 40.0, 116.2, 40.1))
    one = services.node_create(level=level(scheme, "street"), parent=district, name="滨河街道", code="110117001000",
                               valid_from=SINCE, geometry=square(116.0, 40.0, 116.1, 40.1))

    # when
    nodes_bulk_upsert(scheme=scheme, valid_from=SINCE, rows=[
        NodeRow(level="street", code="110117002000", name="滨河街道", parent_code="110117000000",
                geometry=square(116.0, 40.0, 116.1, 40.1))])

    # then
    other = Node.objects.get(scheme=scheme, code="110117002000")
    fields = ("scheme_id", "level_id", "parent_id", "name", "geometry", "area_m2", "centroid_lon", "centroid_lat",
              "min_lon", "min_lat", "max_lon", "max_lat", "attributes", "valid_from", "valid_to", "node_type_id",
              "management_class_id")
    one = Node.objects.get(pk=one.pk)
    assert {f: getattr(other, f) for f in fields} == {f: getattr(one, f) for f in fields}
    assert other.path == f"{district.path}{other.pk}/"
    version_fields = ("parent_id", "level_id", "name", "geometry", "attributes", "valid_from", "valid_to", "change")
    v1, v2 = NodeVersion.objects.get(node=one), NodeVersion.objects.get(node=other)
    assert {f: getattr(v2, f) for f in version_fields} == {f: getattr(v1, f) for f in version_fields}


def test_nodes_created_afterwards_by_the_services_get_fresh_ids(scheme):
    # given
    nodes_bulk_upsert(scheme=scheme, rows=_rows()[:3])
    district = Node.objects.get(scheme=scheme, code="110117000000")

    # when
    later = services.node_create(level=level(scheme, "street"), parent=district, name="渔阳地区",
                                 code="110117003000")

    # then
    assert later.pk > max(Node.objects.exclude(pk=later.pk).values_list("pk", flat=True))
    _check_invariants(scheme)


def test_second_run_changes_nothing(scheme):
    # given
    nodes_bulk_upsert(scheme=scheme, rows=_rows())
    before, version, audit = _counts(scheme), _version(), AuditEntry.objects.count()

    # when
    result = nodes_bulk_upsert(scheme=scheme, rows=_rows())

    # then
    assert not result.created and not result.updated
    assert sum(result.unchanged.values()) == 6
    assert result.territory_version is None
    assert (_counts(scheme), _version(), AuditEntry.objects.count()) == (before, version, audit)


def test_a_rename_closes_the_open_version_and_appends_an_update(scheme):
    # given
    nodes_bulk_upsert(scheme=scheme, rows=_rows(), valid_from=ON)
    rows = _rows()
    rows[2] = rows[2]._replace(name="兴谷街道办事处")
    later = ON + dt.timedelta(days=30)
    version = _version()

    # when
    result = nodes_bulk_upsert(scheme=scheme, rows=rows, valid_from=later, reason="更名")

    # then
    assert dict(result.updated) == {"street": 1}
    node = Node.objects.get(scheme=scheme, code="110117002000")
    assert node.name == "兴谷街道办事处"
    old, new = NodeVersion.objects.filter(node=node).order_by("valid_from")
    assert (old.name, old.valid_to, old.change) == ("兴谷街道", later, ChangeKind.CREATE)
    assert (new.name, new.valid_from, new.valid_to, new.change, new.reason) == (
        "兴谷街道办事处", later, None, ChangeKind.UPDATE, "更名")
    entry = AuditEntry.objects.get(action="territory.node_update", target_id=str(node.pk))
    assert entry.changes == {"name": ["兴谷街道", "兴谷街道办事处"]}
    assert _version() == version  # a name is no structural change


def test_a_new_boundary_is_measured_versioned_and_bumps_the_version(scheme):
    # given
    nodes_bulk_upsert(scheme=scheme, rows=_rows(), valid_from=ON)
    rows = _rows()
    rows[1] = rows[1]._replace(geometry=square(116.0, 40.0, 116.05, 40.1))
    version = _version()

    # when
    result = nodes_bulk_upsert(scheme=scheme, rows=rows, valid_from=ON + dt.timedelta(days=1))

    # then
    assert dict(result.updated) == {"street": 1}
    street = Node.objects.get(scheme=scheme, code="110117001000")
    assert street.max_lon == pytest.approx(116.05)
    assert NodeVersion.objects.get(node=street, valid_to__isnull=True).geometry == street.geometry
    assert result.territory_version == version + 1


def test_an_update_before_the_last_change_is_refused(scheme):
    # given
    nodes_bulk_upsert(scheme=scheme, rows=_rows(), valid_from=ON)
    rows = [row._replace(name=row.name + "新") for row in _rows()]

    # when / then
    with pytest.raises(ValidationError) as err:
        nodes_bulk_upsert(scheme=scheme, rows=rows, valid_from=ON - dt.timedelta(days=1))
    assert "rows[0].valid_from" in err.value.message_dict


def test_parents_may_come_in_earlier_chunks_or_later_in_the_same_chunk(scheme):
    # given: in chunks of two, the grid comes before its community in the same chunk
    district, street, street2, community, community2, grid = _rows()
    rows = [district, street, grid, community, street2, community2]

    # when
    result = nodes_bulk_upsert(scheme=scheme, rows=rows, chunk_size=2)

    # then
    assert sum(result.created.values()) == 6
    _check_invariants(scheme)


def test_progress_is_told_after_every_chunk(scheme):
    # given
    seen = []

    # when
    nodes_bulk_upsert(scheme=scheme, rows=_rows(), chunk_size=4, progress=seen.append)

    # then
    assert seen == [4, 2]


def test_a_missing_parent_is_refused_and_nothing_is_written(scheme):
    # given
    rows = _rows()
    rows[5] = rows[5]._replace(parent_code="110117009001", code="110117009001001")

    # when
    with pytest.raises(ValidationError) as err:
        nodes_bulk_upsert(scheme=scheme, rows=rows)

    # then
    assert "110117009001" in err.value.message_dict["rows[5].parent_code"][0]
    assert _counts(scheme) == (0, 0, 0)


@pytest.mark.parametrize(
    ("index", "change", "field", "reason"),
    [
        (1, {"code": "11011700100"}, "code", "12-digit"),
        (1, {"code": "110117001002"}, "code", "significant digits"),
        (1, {"code": "120117001000"}, "code", "parent's code"),
        (5, {"code": "110117001002001"}, "code", "followed by 3 digits"),
        (5, {"code": "110117001001000"}, "code", "cannot all be zero"),
        (1, {"code": ""}, "code", "code is required"),
        (1, {"name": "  "}, "name", "name is required"),
        (1, {"level": "county"}, "level", "unknown level"),
        (3, {"level": "street", "code": "110117001000", "parent_code": "110117000000"}, "code", "repeats row 1"),
        (3, {"level": "street", "code": "110117003000"}, "level", "deeper"),
        (5, {"parent_code": None}, "parent_code", "needs a parent"),
        (1, {"parent_code": "110117001000"}, "parent_code", "own parent"),
        (4, {"node_type": "hospital"}, "node_type", "unknown node_type"),
        (3, {"attributes": ["a"]}, "attributes", "JSON object"),
        (1, {"geometry": square(116.15, 40.0, 116.3, 40.1)}, "geometry", "outside its parent"),
        (1, {"geometry": {"type": "Point", "coordinates": [116.0, 40.0]}}, "geometry", "Polygon"),
    ],
)
def test_bad_rows_are_refused_naming_row_and_field(scheme, index, change, field, reason):
    # given
    rows = _rows()
    rows[index] = rows[index]._replace(**change)

    # when
    with pytest.raises(ValidationError) as err:
        nodes_bulk_upsert(scheme=scheme, rows=rows)

    # then
    messages = err.value.message_dict
    assert list(messages) == [f"rows[{index}].{field}"], messages
    assert reason in messages[f"rows[{index}].{field}"][0]
    assert _counts(scheme) == (0, 0, 0)


def test_a_code_issued_before_is_never_given_again(tree, scheme):
    # given: g1 moved to another community, so recoded; its old code stays issued to it
    other = services.node_create(level=level(scheme, "community"), parent=tree["street"], name="另一社区",
                                 code="110117213203", geometry=square(116.0, 40.0, 116.1, 40.1), valid_from=SINCE)
    old_code = tree["g1"].code
    services.node_move(tree["g1"], new_parent=other)
    row = NodeRow(level="grid", code=old_code, name="新网格", parent_code="110117213202")

    # when
    with pytest.raises(ValidationError) as err:
        nodes_bulk_upsert(scheme=scheme, rows=[row])

    # then
    assert "never reused" in err.value.message_dict["rows[0].code"][0]


def test_an_existing_code_at_another_level_is_refused(tree, scheme):
    # given
    row = NodeRow(level="community", code="110117213000", name="金海湖镇", parent_code="110117000000")

    # when / then
    with pytest.raises(ValidationError) as err:
        nodes_bulk_upsert(scheme=scheme, rows=[row])
    assert "is a 街道" in err.value.message_dict["rows[0].level"][0]


def test_a_retired_node_stays_retired(tree, scheme):
    # given
    services.node_merge([tree["g1"], tree["g2"]], name="合并网格", effective_date=dt.date.today() + dt.timedelta(1))
    row = NodeRow(level="grid", code=tree["g1"].code, name="一网格（恢复）", parent_code="110117213202")

    # when
    result = nodes_bulk_upsert(scheme=scheme, rows=[row])

    # then
    assert dict(result.retired) == {"grid": 1}
    assert Node.objects.get(pk=tree["g1"].pk).name == "一网格"


def test_an_existing_node_under_another_parent_is_left_where_it_is(tree, scheme):
    # given: the community's row names another street than the one it sits under
    rows = [NodeRow(level="street", code="110117214000", name="熊儿寨乡", parent_code="110117000000"),
            NodeRow(level="community", code="110117213202", name="白云寺村", parent_code="110117214000")]

    # when
    result = nodes_bulk_upsert(scheme=scheme, rows=rows)

    # then
    assert dict(result.elsewhere) == {"community": 1} and result.elsewhere_codes == ["110117213202"]
    assert Node.objects.get(pk=tree["community"].pk).parent_id == tree["street"].pk


def test_a_node_written_around_the_services_gets_its_code_issued(tree, scheme):
    # given
    IssuedCode.objects.filter(node=tree["g2"]).delete()

    # when
    result = nodes_bulk_upsert(scheme=scheme, rows=[NodeRow(level="grid", code=tree["g2"].code, name="二网格",
                                                            parent_code="110117213202")])

    # then
    assert dict(result.unchanged) == {"grid": 1}
    assert IssuedCode.objects.filter(scheme=scheme, code=tree["g2"].code, node=tree["g2"]).exists()


@pytest.mark.parametrize(
    ("lvl", "parent", "code"),
    [
        ("street", "district", "11011721300"),
        ("street", "district", "110117213001"),
        ("street", "district", "120117213000"),
        ("street", "district", "000000000000"),
        ("street", "district", "11011721300a"),
        ("street", "district", "110117214000"),
        ("grid", "community", "110117213202"),
        ("grid", "community", "110117213203001"),
        ("grid", "community", "110117213202000"),
        ("grid", "community", "1101172132020011"),
        ("grid", "community", "110117213202007"),
        ("microgrid", "g1", "110117213202001007"),
    ],
)
def test_code_rules_are_the_rules_of_code_validate(tree, scheme, lvl, parent, code):
    # given
    lv, parent_node = level(scheme, lvl), tree[parent]

    # when
    try:
        services.code_validate(scheme=scheme, level=lv, parent=parent_node, code=code)
        expected = None
    except ValidationError as exc:
        expected = exc.message_dict["code"][0]
    bulk = code_format_error(level=lv, code=code, parent_code=parent_node.code, parent_level=parent_node.level)

    # then: both refuse for the same reason, or both accept
    assert bulk == expected
