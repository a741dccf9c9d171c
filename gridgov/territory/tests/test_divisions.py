"""Importing China's administrative divisions from the shipped data into the territory tree."""

import csv
import io
import lzma

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from gridgov.territory import services
from gridgov.territory.divisions import (
    DATA_DIR,
    FILES,
    NATIONAL_SCHEME_KEY,
    division_prefix,
    division_rows,
    divisions_count,
    divisions_import,
    national_scheme_get_or_create,
)
from gridgov.territory.models import (
    ADMIN_SIGNIFICANT_DIGITS,
    AdminRank,
    ChangeKind,
    IssuedCode,
    Node,
    NodeVersion,
    TerritoryVersion,
)
from gridgov.territory.tests.test_invariants import _check_invariants

pytestmark = pytest.mark.django_db

PINGGU = "110117"  # 北京市平谷区: 18 towns / streets, 323 villages / communities
HUANGSONGYU = "110117213"  # 黄松峪乡, a town of 平谷区 with 7 villages


@pytest.fixture
def china(db):
    return national_scheme_get_or_create()[0]


def _counts(scheme) -> tuple[int, int, int]:
    return (Node.objects.filter(scheme=scheme).count(), NodeVersion.objects.filter(node__scheme=scheme).count(),
            IssuedCode.objects.filter(scheme=scheme).count())


def test_division_rows_are_top_down_with_the_ancestors():
    # when
    rows = list(division_rows(PINGGU))

    # then
    assert [(r.code, r.name) for r in rows[:3]] == [("110000000000", "北京市"), ("110100000000", "市辖区"),
                                                    ("110117000000", "平谷区")]
    assert [r.rank for r in rows] == sorted(r.rank for r in rows)
    assert len(rows) == 3 + 18 + 323 == divisions_count(PINGGU)
    assert ("110117213202", "白云寺村委会", 5, "110117213000") in rows


def test_the_shipped_data_is_sorted_and_coded_as_the_reader_assumes():
    # given: the reader stops reading a file past the code it looks for, and attaches a division to the
    # division its parent column names, whose code is a prefix of its own
    upper: set[str] = set()

    for rank, (filename, parent_column) in sorted(FILES.items()):
        # when
        with lzma.open(DATA_DIR / filename, "rt", encoding="utf-8", newline="") as text:
            rows = csv.reader(text)
            header = next(rows)
            parent_idx = header.index(parent_column) if parent_column else None
            pairs = [(row[0], row[parent_idx] if parent_column else "") for row in rows]

        # then
        codes = [code for code, _parent in pairs]
        assert header[0] == "code" and codes == sorted(codes) and len(set(codes)) == len(codes), filename
        assert {len(code) for code in codes} == {ADMIN_SIGNIFICANT_DIGITS[rank]}, filename
        if parent_column:
            assert all(parent in upper and code.startswith(parent) for code, parent in pairs), filename
        upper = set(codes)


@pytest.mark.parametrize(("code", "prefix"), [("11", "11"), ("110117", "110117"), ("110117000000", "110117"),
                                              ("110100000000", "1101"), ("110117213000", "110117213"),
                                              ("110117213202", "110117213202"), (" 110117 ", "110117")])
def test_a_code_is_read_by_its_significant_digits(code, prefix):
    assert division_prefix(code) == prefix


def test_one_county_into_the_national_scheme(china):
    # given
    data = {row.code: row for row in division_rows(PINGGU)}
    version = TerritoryVersion.objects.values_list("value", flat=True).first() or 0

    # when
    result = divisions_import(scheme=china, code=PINGGU)

    # then: one node per division, at the level of its rank, under its parent division
    assert result.created == {1: 1, 2: 1, 3: 1, 4: 18, 5: 323}
    assert (result.code, result.name) == ("110117000000", "平谷区")
    nodes = {n.pk: n for n in Node.objects.filter(scheme=china).select_related("level")}
    assert len(nodes) == len(data) == result.rows
    for node in nodes.values():
        row = data[node.code]
        parent = nodes.get(node.parent_id)
        assert (node.name, node.level.admin_rank) == (row.name, row.rank)
        assert (parent.code if parent else None) == row.parent_code
        assert node.path == (f"{parent.path}{node.pk}/" if parent else f"/{node.pk}/")
    assert set(IssuedCode.objects.filter(scheme=china).values_list("code", flat=True)) == set(data)
    assert set(NodeVersion.objects.filter(node__scheme=china).values_list("change", flat=True)) == {ChangeKind.CREATE}
    assert NodeVersion.objects.filter(node__scheme=china, valid_to__isnull=True).count() == len(data)
    assert result.territory_version == version + 1
    _check_invariants(china)


def test_a_scheme_whose_top_level_is_the_county_gets_the_county_as_root(scheme):
    # given: the test scheme's levels are district (county rank) → street → community → grid → micro-grid

    # when
    result = divisions_import(scheme=scheme, code=PINGGU)

    # then
    assert result.created == {3: 1, 4: 18, 5: 323}
    assert result.skipped == {1: 1, 2: 1}
    district = Node.objects.get(scheme=scheme, code="110117000000")
    assert (district.parent_id, district.level.key, district.path) == (None, "district", f"/{district.pk}/")
    assert Node.objects.filter(scheme=scheme, parent=district, level__key="street").count() == 18
    _check_invariants(scheme)


def test_a_scheme_without_the_township_level_hangs_villages_on_the_county(db):
    # given
    scheme = services.scheme_create(key="no-towns", name_zh="无乡级", levels=[
        {"key": "county", "name_zh": "县", "admin_rank": AdminRank.COUNTY},
        {"key": "village", "name_zh": "村", "admin_rank": AdminRank.VILLAGE},
    ])

    # when
    result = divisions_import(scheme=scheme, code=HUANGSONGYU)

    # then
    county = Node.objects.get(scheme=scheme, code="110117000000")
    assert result.created == {3: 1, 5: 7}
    assert result.skipped == {1: 1, 2: 1, 4: 1}
    assert Node.objects.filter(scheme=scheme, parent=county).count() == 7


def test_a_second_run_creates_and_changes_nothing(china):
    # given
    divisions_import(scheme=china, code=HUANGSONGYU)
    before = _counts(china)
    version = TerritoryVersion.objects.get().value

    # when
    result = divisions_import(scheme=china, code=HUANGSONGYU)

    # then
    assert result.created == {} and result.updated == {}
    assert result.unchanged == {1: 1, 2: 1, 3: 1, 4: 1, 5: 7}
    assert _counts(china) == before
    assert TerritoryVersion.objects.get().value == version


def test_a_renamed_division_gets_its_name_back_with_a_version(china):
    # given: a village renamed locally since the last import
    divisions_import(scheme=china, code=HUANGSONGYU)
    village = Node.objects.get(scheme=china, code="110117213202")
    Node.objects.filter(pk=village.pk).update(name="白云寺村")
    before = _counts(china)

    # when
    result = divisions_import(scheme=china, code=HUANGSONGYU)

    # then
    assert result.updated == {5: 1}
    village.refresh_from_db()
    assert village.name == "白云寺村委会"
    versions = NodeVersion.objects.filter(node=village).order_by("id")
    assert [(v.change, v.name, v.valid_to is None) for v in versions] == [
        (ChangeKind.CREATE, "白云寺村委会", False), (ChangeKind.UPDATE, "白云寺村委会", True)]
    assert _counts(china) == (before[0], before[1] + 1, before[2])


def test_a_county_coded_like_its_city_is_one_node(china):
    # given: 东莞市 is a city without counties; the data gives it a county 441900 = 4419 padded

    # when
    result = divisions_import(scheme=china, code="441900003")

    # then: the town hangs on the city
    assert result.merged == {3: 1}
    city = Node.objects.get(scheme=china, code="441900000000")
    assert city.level.key == "prefecture"
    town = Node.objects.get(scheme=china, code="441900003000")
    assert town.parent_id == city.pk
    _check_invariants(china)


def test_a_county_coded_like_its_city_is_kept_where_the_city_level_is_not(scheme):
    # when
    divisions_import(scheme=scheme, code="441900003")

    # then
    county = Node.objects.get(scheme=scheme, code="441900000000")
    assert (county.level.key, county.parent_id) == ("district", None)
    assert Node.objects.get(scheme=scheme, code="441900003000").parent_id == county.pk


def test_jinmen_town_and_village_coded_like_the_county_are_one_node(china):
    # when
    result = divisions_import(scheme=china, code="350527")

    # then
    assert result.created == {1: 1, 2: 1, 3: 1}
    assert result.merged == {4: 1, 5: 1}


@pytest.mark.parametrize(("code", "reason"), [
    ("11011", "2, 4, 6, 9 or 12 digits"),
    ("1101170000000", "2, 4, 6, 9 or 12 digits"),
    ("11011７", "2, 4, 6, 9 or 12 digits"),
    ("abc", "2, 4, 6, 9 or 12 digits"),
    ("", "2, 4, 6, 9 or 12 digits"),
    ("110199", "not in the shipped division data"),
    ("110117999", "not in the shipped division data"),
])
def test_bad_codes_are_refused(china, code, reason):
    # when
    with pytest.raises(ValidationError) as err:
        divisions_import(scheme=china, code=code)

    # then
    assert reason in err.value.message_dict["code"][0]
    assert _counts(china) == (0, 0, 0)


def test_a_scheme_without_administrative_levels_is_refused(db):
    # given
    scheme = services.scheme_create(key="grids-only", name_zh="网格", levels=[{"key": "grid", "name_zh": "网格"}])

    # when
    with pytest.raises(ValidationError) as err:
        divisions_import(scheme=scheme, code=PINGGU)

    # then
    assert "no level with an administrative rank" in err.value.message_dict["scheme"][0]


def test_the_national_scheme_is_made_once(db):
    # when
    first, created = national_scheme_get_or_create()
    again, created_again = national_scheme_get_or_create()

    # then
    assert (created, created_again, first.pk) == (True, False, again.pk)
    assert first.key == NATIONAL_SCHEME_KEY
    levels = list(first.levels.order_by("depth").values_list("key", "admin_rank", "is_grid", "code_digits"))
    assert levels == [("province", 1, False, None), ("prefecture", 2, False, None), ("county", 3, False, None),
                      ("township", 4, False, None), ("village", 5, False, None), ("grid", None, True, 3),
                      ("microgrid", None, True, 3)]


def test_the_command_imports_with_a_progress_bar_and_prints_the_counts(db):
    # given
    out, err = io.StringIO(), io.StringIO()

    # when
    call_command("import_divisions", HUANGSONGYU, stdout=out, stderr=err)

    # then
    assert "黄松峪乡" in out.getvalue()
    total = out.getvalue().splitlines()[-1].split()
    assert total[0] == "11" and total[-1] == "total"
    assert Node.objects.filter(scheme__key=NATIONAL_SCHEME_KEY).count() == 11


@pytest.mark.parametrize(("args", "message"), [
    ((), "or --all"),
    ((PINGGU, "--all"), "not both"),
    ((PINGGU, "--scheme", "nowhere"), "no level scheme"),
    (("110199",), "not in the shipped division data"),
])
def test_the_command_refuses_unclear_requests(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("import_divisions", *args, stdout=io.StringIO(), stderr=io.StringIO())
