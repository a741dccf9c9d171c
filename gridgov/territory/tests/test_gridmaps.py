import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
import shapefile
import shapely
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from shapely.geometry import shape

from gridgov.territory import gridmaps, services
from gridgov.territory.gridmaps import GridMapError, RowStatus, gridmap_export, gridmap_import, gridmap_read
from gridgov.territory.models import IssuedCode, Node, NodeVersion, TerritoryVersion
from gridgov.territory.tests.factories import SINCE, level, make_scheme, square

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
WGS84_PRJ = ('GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
             'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]')
CGCS2000_GK_PRJ = ('PROJCS["CGCS2000_3_Degree_GK_CM_117E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
                   'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
                   'UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],'
                   'PARAMETER["False_Easting",500000.0],PARAMETER["Central_Meridian",117.0],UNIT["Meter",1.0]]')
BOWTIE = {"type": "Polygon", "coordinates": [[[116.0, 40.0], [116.01, 40.01], [116.01, 40.0], [116.0, 40.01],
                                              [116.0, 40.0]]]}


def feature(geometry, **properties) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def upload(*features, name="map.geojson"):
    """Rows read from GeoJSON bytes, the way an uploaded file is read."""
    body = json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()
    return gridmap_read(path_or_file=io.BytesIO(body), filename=name)


def stored_counts() -> tuple[int, int, int]:
    return Node.objects.count(), NodeVersion.objects.count(), IssuedCode.objects.count()


def write_shapefile(base: Path, records, *, encoding="gbk", prj=WGS84_PRJ, cpg=None) -> Path:
    """records: (name, parent_code, polygon) with polygons as GeoJSON dicts."""
    with shapefile.Writer(str(base), shapeType=shapefile.POLYGON, encoding=encoding) as w:
        w.field("名称", "C", 50)
        w.field("上级编码", "C", 20)
        w.field("REMARK", "C", 50)
        for name, parent_code, polygon in records:
            w.poly(polygon["coordinates"])
            w.record(name, parent_code, f"{name}备注")
    if prj is not None:
        base.with_suffix(".prj").write_text(prj)
    if cpg is not None:
        base.with_suffix(".cpg").write_text(cpg)
    return base.with_suffix(".shp")


def bare_community(scheme):
    """district → street → community (0.1° square at 117°E 40°N) without grids."""
    d = services.node_create(level=level(scheme, "district"), name="密云区", code="110118000000", valid_from=SINCE,
                             geometry=square(117.0, 40.0, 117.1, 40.1))
    s = services.node_create(level=level(scheme, "street"), parent=d, name="鼓楼街道", code="110118001000",
                             valid_from=SINCE, geometry=square(117.0, 40.0, 117.1, 40.1))
    return services.node_create(level=level(scheme, "community"), parent=s, name="果园社区", code="110118001001",
                                valid_from=SINCE, geometry=square(117.0, 40.0, 117.1, 40.1))


# --------------------------------------------------------------------------- attaching to parents
def test_import_by_parent_code_gives_codes_in_reading_order(tree, scheme):
    # given micro-grids of g1 named by its code, the southern one first in the file
    g1 = tree["g1"]
    rows = upload(
        feature(square(116.0, 40.0, 116.05, 40.05), 名称="南片", 上级编码=g1.code, 层级="微网格", 楼栋数=12),
        feature(square(116.0, 40.05, 116.05, 40.1), 名称="北片", 上级编码=g1.code, 层级="微网格"),
    )

    # when
    report = gridmap_import(scheme=scheme, rows=rows)

    # then both are under g1, the northern one coded first; other properties became attributes
    assert [r.status for r in report.rows] == [RowStatus.IMPORTED, RowStatus.IMPORTED]
    south, north = (Node.objects.get(pk=r.node_id) for r in report.rows)
    assert south.parent_id == north.parent_id == g1.pk
    assert (north.code, south.code) == (f"{g1.code}001", f"{g1.code}002")
    assert south.attributes == {"楼栋数": 12}
    assert report.committed and not report.has_rejections


def test_import_by_code_prefix(tree, scheme):
    # given a micro-grid whose code extends g2's code, with no parent named
    g2 = tree["g2"]
    rows = upload(feature(square(116.05, 40.0, 116.1, 40.1), code=f"{g2.code}007", name="东片", level="microgrid"))

    # when
    report = gridmap_import(scheme=scheme, rows=rows)

    # then
    node = Node.objects.get(pk=report.rows[0].node_id)
    assert (node.parent_id, node.code) == (g2.pk, f"{g2.code}007")


def test_import_by_containment_with_level_for_the_whole_file(tree, scheme):
    # given a polygon inside g2, with neither code nor parent
    rows = upload(feature(square(116.06, 40.01, 116.09, 40.04), 网格名称="东南角"))

    # when
    report = gridmap_import(scheme=scheme, rows=rows, level="microgrid")

    # then the grid holding it is the parent
    node = Node.objects.get(pk=report.rows[0].node_id)
    assert node.parent_id == tree["g2"].pk
    assert node.code == f"{tree['g2'].code}001"
    assert report.rows[0].parent_code == tree["g2"].code


def test_grids_and_their_microgrids_in_one_file(scheme):
    # given a community without grids and a file listing micro-grids before the grids holding them
    community = bare_community(scheme)
    micro = [feature(square(x0, y0, x0 + 0.05, y0 + 0.05), name=f"微{i}", level="microgrid")
             for i, (x0, y0) in enumerate([(117.0, 40.0), (117.0, 40.05), (117.05, 40.0), (117.05, 40.05)], start=1)]
    grids = [feature(square(117.05, 40.0, 117.1, 40.1), name="东网格", level="grid"),
             feature(square(117.0, 40.0, 117.05, 40.1), name="西网格", level="grid")]

    # when
    report = gridmap_import(scheme=scheme, rows=upload(*micro, *grids))

    # then grids come first, coded west → east; micro-grids go into the grid holding them, north first
    assert report.counts["imported"] == 6
    west = Node.objects.get(parent=community, name="西网格")
    east = Node.objects.get(parent=community, name="东网格")
    assert (west.code, east.code) == ("110118001001001", "110118001001002")
    codes = {n.name: (n.parent_id, n.code) for n in Node.objects.filter(level__key="microgrid", scheme=scheme)}
    assert codes == {"微2": (west.pk, f"{west.code}001"), "微1": (west.pk, f"{west.code}002"),
                     "微4": (east.pk, f"{east.code}001"), "微3": (east.pk, f"{east.code}002")}
    assert not report.gaps and not report.overlaps


# --------------------------------------------------------------------------- Shapefiles
def test_shapefile_with_gbk_names_and_no_cpg(tree, scheme, tmp_path):
    # given a Shapefile written in GBK (the default of Chinese GIS software), a .prj and no .cpg
    g1 = tree["g1"]
    shp = write_shapefile(tmp_path / "微网格", [("北片", g1.code, square(116.0, 40.05, 116.05, 40.1)),
                                               ("南片", g1.code, square(116.0, 40.0, 116.05, 40.05))])

    # when
    rows = gridmap_read(path_or_file=shp)
    report = gridmap_import(scheme=scheme, rows=rows, level="microgrid")

    # then the Chinese text is decoded and the rows land under g1
    assert [r.row for r in rows] == [1, 2]
    assert rows[0].properties["名称"] == "北片"
    assert report.counts["imported"] == 2
    north = Node.objects.get(pk=report.rows[0].node_id)
    assert (north.name, north.parent_id, north.attributes) == ("北片", g1.pk, {"REMARK": "北片备注"})


def test_zipped_shapefile_upload_with_utf8_cpg(tree, scheme, tmp_path):
    # given a UTF-8 Shapefile with its .cpg, zipped the way users upload it
    with pytest.warns(match="truncated"):  # a DBF field name has 10 bytes: 上级编码 is cut to 上级编 in UTF-8
        shp = write_shapefile(tmp_path / "grids", [("东片", tree["g2"].code, square(116.05, 40.0, 116.1, 40.1))],
                              encoding="utf-8", cpg="UTF-8")
    archive = tmp_path / "grids.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            zf.write(shp.with_suffix(f".{ext}"), f"grids.{ext}")

    # when
    with archive.open("rb") as handle:
        rows = gridmap_read(path_or_file=handle, filename="grids.zip")
    report = gridmap_import(scheme=scheme, rows=rows, level="microgrid")

    # then the truncated field name is still recognised
    assert rows[0].properties == {"名称": "东片", "上级编": tree["g2"].code, "REMARK": "东片备注"}
    assert report.rows[0].parent_code == tree["g2"].code
    assert Node.objects.get(pk=report.rows[0].node_id).attributes == {"REMARK": "东片备注"}
    assert Node.objects.get(pk=report.rows[0].node_id).parent_id == tree["g2"].pk


def test_projected_shapefile_is_refused_naming_the_crs(tmp_path):
    # given a Shapefile in Gauss-Krüger metres
    shp = write_shapefile(tmp_path / "gk", [("x", "", square(500000, 4400000, 500100, 4400100))],
                          prj=CGCS2000_GK_PRJ)

    # when / then
    with pytest.raises(GridMapError) as err:
        gridmap_read(path_or_file=shp)
    assert "CGCS2000_3_Degree_GK_CM_117E" in str(err.value)
    assert "projected" in str(err.value)


@pytest.mark.parametrize(
    ("prj", "refused"),
    [
        ('GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,'
         '298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]', None),
        ('GEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563]],'
         'CS[ellipsoidal,2],AXIS["longitude",east],AXIS["latitude",north],UNIT["degree",0.0174532925199433]]', None),
        ('GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",SPHEROID["Krasovsky_1940",6378245.0,298.3]],'
         'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]', "GCS_Beijing_1954"),
        ("garbage", "cannot be read"),
    ],
)
def test_prj_names_the_crs_it_refuses(tmp_path, prj, refused):
    shp = write_shapefile(tmp_path / "crs", [("一片", "", square(116.0, 40.0, 116.01, 40.01))], prj=prj)
    if refused is None:
        assert gridmap_read(path_or_file=shp)[0].properties["名称"] == "一片"
    else:
        with pytest.raises(GridMapError, match=refused):
            gridmap_read(path_or_file=shp)


def test_shapefile_of_points_is_refused(tmp_path):
    with shapefile.Writer(str(tmp_path / "pts"), shapeType=shapefile.POINT) as w:
        w.field("NAME", "C", 10)
        w.point(116.0, 40.0)
        w.record("p")
    with pytest.raises(GridMapError, match="POINT shapes; grid maps need polygons"):
        gridmap_read(path_or_file=tmp_path / "pts.shp")


def test_shapefile_without_prj_in_metres_is_refused(tmp_path):
    shp = write_shapefile(tmp_path / "noprj", [("x", "", square(500000, 4400000, 500100, 4400100))], prj=None)
    with pytest.raises(GridMapError) as err:
        gridmap_read(path_or_file=shp)
    assert "no .prj" in str(err.value) and "projected" in str(err.value)


@pytest.mark.parametrize(
    ("body", "name", "fragment"),
    [
        (b"{not json", "x.geojson", "not valid JSON"),
        (b'{"type": "Polygon", "coordinates": []}', "x.geojson", "FeatureCollection"),
        (b'{"type": "FeatureCollection", "features": []}', "x.geojson", "no features"),
        (b'{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},'
         b' "features": []}', "x.geojson", "EPSG::4547"),
        (b"PK", "x.zip", "zip"),
        (b"", "x.kml", "unsupported file type"),
        (b"", "x.shp", ".zip"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(body, name, fragment):
    with pytest.raises(GridMapError) as err:
        gridmap_read(path_or_file=io.BytesIO(body), filename=name)
    assert fragment in str(err.value)
    assert err.value.as_validation_error().message_dict["file"]


def test_gbk_geojson_is_read():
    body = json.dumps({"type": "FeatureCollection", "features": [feature(square(116, 40, 116.01, 40.01), 名称="一片")]},
                      ensure_ascii=False).encode("gbk")
    rows = gridmap_read(path_or_file=io.BytesIO(body), filename="gbk.json")
    assert rows[0].properties == {"名称": "一片"}


# --------------------------------------------------------------------------- rejections
G1 = "110117213202001"
INSIDE_G1 = square(116.01, 40.01, 116.02, 40.02)


@pytest.mark.parametrize(
    ("properties", "geometry", "field", "fragment"),
    [
        ({"name": "x", "code": "110117213203001"}, INSIDE_G1, "code", "no active node has code 110117213203"),
        ({"name": "x", "code": "11011721320200A", "parent_code": G1}, INSIDE_G1, "code", "followed by 3 digits"),
        ({"name": "x", "code": f"{G1}000"}, INSIDE_G1, "code", "cannot all be zero"),
        ({"name": "x", "parent_code": G1}, square(116.04, 40.0, 116.07, 40.01), "geometry", "outside its parent"),
        ({"name": "x", "层级": "楼栋", "parent_code": G1}, INSIDE_G1, "level", "unknown level '楼栋'"),
        ({"name": "x", "上级编码": "999"}, INSIDE_G1, "parent_code", "no active node has code 999"),
        ({"name": "x"}, square(120.0, 30.0, 120.01, 30.01), "parent_code", "no active 网格 polygon overlaps"),
        ({"name": "x", "parent_code": G1}, BOWTIE, "geometry", "Self-intersection"),
        ({"name": "x", "parent_code": G1}, {"type": "Point", "coordinates": [116.01, 40.01]}, "geometry",
         "Polygon or MultiPolygon"),
        ({"name": "x", "parent_code": G1}, square(116.01, 95.0, 116.02, 96.0), "geometry", "out of range"),
        ({"name": "x", "parent_code": G1, "类型": "花园"}, INSIDE_G1, "node_type", "unknown node_type '花园'"),
        ({"name": "x", "parent_code": G1, "管理类别": "9"}, INSIDE_G1, "management_class", "unknown management_class"),
        ({"parent_code": G1}, INSIDE_G1, "name", "a name is required"),
        ({"name": "x", "parent_code": G1, "attributes": "[1, 2]"}, INSIDE_G1, "attributes", "JSON object"),
        ({"name": "x", "code": G1, "level": "grid", "parent_code": "110117213000"}, INSIDE_G1, "parent_code",
         "does not move nodes"),
        ({"name": "x", "code": G1}, INSIDE_G1, "level", "does not change levels"),
    ],
)
def test_each_bad_row_is_rejected_naming_the_field_and_the_reason(tree, scheme, properties, geometry, field,
                                                                   fragment):
    # given
    before = stored_counts()
    rows = upload(feature(geometry, **properties))

    # when
    report = gridmap_import(scheme=scheme, rows=rows, level="microgrid")

    # then
    row = report.rows[0]
    assert row.status == RowStatus.REJECTED
    assert field in row.errors, row.errors
    assert fragment in " ".join(row.errors[field])
    assert stored_counts() == before
    assert fragment in report.to_markdown()


def test_self_intersection_is_reported_with_its_place(tree, scheme):
    report = gridmap_import(scheme=scheme, rows=upload(feature(BOWTIE, name="蝴蝶", parent_code=G1)), level="microgrid")
    [problem] = report.invalid_polygons
    assert problem["row"] == 1
    assert problem["reason"] == "Self-intersection"
    assert problem["location"] == pytest.approx([116.005, 40.005])


def test_polygon_sticking_out_is_reported_with_its_area(tree, scheme):
    report = gridmap_import(scheme=scheme, rows=upload(
        feature(square(116.04, 40.0, 116.06, 40.01), name="越界", parent_code=G1)), level="microgrid")
    [out] = report.outside_parent
    # 0.01° x 0.01° at 40°N is about 853 m x 1112 m
    assert out["parent_code"] == G1
    assert 0.9e6 < out["area_m2"] < 1.0e6


def test_unknown_level_for_the_whole_file_raises_naming_the_argument(scheme):
    with pytest.raises(ValidationError) as err:
        gridmap_import(scheme=scheme, rows=[], level="building")
    assert "level" in err.value.message_dict


def test_children_of_a_rejected_row_say_so(scheme):
    # given a grid with an explicit code that is rejected, and a micro-grid naming it as parent
    bare_community(scheme)
    rows = upload(
        feature(BOWTIE, name="坏网格", code="110118001001001", level="grid"),
        feature(square(117.0, 40.0, 117.01, 40.01), name="子", parent_code="110118001001001", level="microgrid"),
    )

    # when
    report = gridmap_import(scheme=scheme, rows=rows)

    # then
    assert "(row 1) was rejected" in report.rows[1].errors["parent_code"][0]


def test_a_code_twice_in_one_file_is_rejected_the_second_time(tree, scheme):
    rows = upload(feature(INSIDE_G1, name="a", code=f"{G1}005"), feature(INSIDE_G1, name="b", code=f"{G1}005"))
    report = gridmap_import(scheme=scheme, rows=rows, level="microgrid")
    assert report.rows[0].status == RowStatus.IMPORTED
    assert "also in row 1" in report.rows[1].errors["code"][0]


def test_a_rejected_update_changes_nothing_stored(tree, scheme):
    # given a row renaming g1 whose new polygon sticks out of the community
    rows = upload(feature(square(116.0, 40.0, 116.05, 40.2), name="新名字", code=G1, level="grid"))

    # when
    report = gridmap_import(scheme=scheme, rows=rows)

    # then
    assert report.rows[0].status == RowStatus.REJECTED
    assert Node.objects.get(pk=tree["g1"].pk).name == "一网格"


# --------------------------------------------------------------------------- warnings
def test_overlapping_siblings_are_imported_with_a_warning(tree, scheme):
    rows = upload(feature(square(116.0, 40.0, 116.05, 40.06), name="南"),
                  feature(square(116.0, 40.05, 116.05, 40.1), name="北"))
    report = gridmap_import(scheme=scheme, rows=rows, level="microgrid")
    assert report.counts["imported"] == 2
    [overlap] = report.overlaps
    # 0.05° x 0.01° at 40°N ≈ 4.26 km x 1.11 km
    assert sorted(overlap["rows"]) == [1, 2]
    assert 4.6e6 < overlap["area_m2"] < 4.8e6
    assert all("overlaps" in " ".join(r.warnings) for r in report.rows)
    assert not report.gaps


def test_a_gap_inside_the_parent_is_a_warning_with_its_box(tree, scheme):
    report = gridmap_import(scheme=scheme, rows=upload(feature(square(116.0, 40.0, 116.05, 40.05), name="南")),
                            level="microgrid")
    assert report.rows[0].status == RowStatus.IMPORTED
    [gap] = report.gaps
    assert gap["parent_code"] == G1
    assert gap["bbox"] == pytest.approx([116.0, 40.05, 116.05, 40.1])
    assert gap["area_m2"] == pytest.approx(tree["g1"].area_m2 / 2, rel=1e-3)


def test_a_row_without_polygon_is_imported_with_a_warning(tree, scheme):
    report = gridmap_import(scheme=scheme, rows=upload(feature(None, name="无图", parent_code=G1)), level="microgrid")
    assert report.rows[0].status == RowStatus.IMPORTED
    assert report.rows[0].warnings == ["no polygon"]
    assert Node.objects.get(pk=report.rows[0].node_id).geometry is None


def test_property_map_names_the_columns(tree, scheme):
    rows = upload(feature(INSIDE_G1, GRID_NAME="映射", UP=G1))
    report = gridmap_import(scheme=scheme, rows=rows, level="microgrid",
                            property_map={"name": "GRID_NAME", "parent_code": "up"})
    assert report.rows[0].status == RowStatus.IMPORTED
    assert Node.objects.get(pk=report.rows[0].node_id).attributes == {}


# --------------------------------------------------------------------------- modes
def _one_good_one_bad():
    return upload(feature(INSIDE_G1, name="好", parent_code=G1),
                  feature(BOWTIE, name="坏", parent_code=G1))


def test_all_or_nothing_leaves_the_database_unchanged(tree, scheme):
    # given
    before = stored_counts()
    version = TerritoryVersion.objects.get().value

    # when
    report = gridmap_import(scheme=scheme, rows=_one_good_one_bad(), level="microgrid", mode="all_or_nothing")

    # then the good row says what it would have done, and nothing was written
    assert [r.status for r in report.rows] == [RowStatus.IMPORTED, RowStatus.REJECTED]
    assert not report.committed and not any(r.written for r in report.rows)
    assert stored_counts() == before
    assert TerritoryVersion.objects.get().value == version
    assert "nothing written" in report.to_markdown()


def test_per_row_keeps_the_good_rows(tree, scheme):
    before = stored_counts()
    report = gridmap_import(scheme=scheme, rows=_one_good_one_bad(), level="microgrid")
    assert report.committed
    assert [r.written for r in report.rows] == [True, False]
    assert Node.objects.filter(parent=tree["g1"], name="好").exists()
    assert not Node.objects.filter(name="坏").exists()
    assert stored_counts() == (before[0] + 1, before[1] + 1, before[2] + 1)


@pytest.mark.parametrize("mode", ["per_row", "all_or_nothing"])
def test_dry_run_writes_nothing(tree, scheme, mode):
    before = stored_counts()
    rows = upload(feature(INSIDE_G1, name="试", parent_code=G1))
    report = gridmap_import(scheme=scheme, rows=rows, level="microgrid", mode=mode, dry_run=True)
    assert report.rows[0].status == RowStatus.IMPORTED
    assert report.rows[0].code == f"{G1}001"
    assert report.rows[0].node_id is None and not report.committed
    assert stored_counts() == before


def test_unknown_mode_is_refused(scheme):
    with pytest.raises(ValidationError) as err:
        gridmap_import(scheme=scheme, rows=[], mode="sometimes")
    assert "mode" in err.value.message_dict


# --------------------------------------------------------------------------- idempotence and updates
def test_importing_the_same_file_again_changes_nothing(tree, scheme):
    # given a file without codes imported once
    rows = gridmap_read(path_or_file=DATA / "microgrids_g1.geojson")
    first = gridmap_import(scheme=scheme, rows=rows)
    assert first.counts["imported"] == 2
    before, version = stored_counts(), TerritoryVersion.objects.get().value

    # when it is imported again
    again = gridmap_import(scheme=scheme, rows=rows)

    # then its rows are matched by parent, level and name, and nothing is written
    assert [r.status for r in again.rows] == [RowStatus.UNCHANGED, RowStatus.UNCHANGED]
    assert [r.code for r in again.rows] == [r.code for r in first.rows]
    assert stored_counts() == before
    assert TerritoryVersion.objects.get().value == version


def test_reimport_with_codes_of_an_edited_polygon_updates_only_that_cell(tree, scheme):
    # given micro-grids imported, then exported with their codes, one of them edited
    gridmap_import(scheme=scheme, rows=gridmap_read(path_or_file=DATA / "microgrids_g1.geojson"))
    exported = gridmap_export(scheme=scheme, root=tree["g1"], levels=["microgrid"])
    exported["features"][0]["geometry"] = square(116.0, 40.05, 116.05, 40.09)
    body = io.BytesIO(json.dumps(exported, ensure_ascii=False).encode())

    # when
    report = gridmap_import(scheme=scheme, rows=gridmap_read(path_or_file=body, filename="edited.json"))

    # then
    assert [(r.status, r.changed) for r in report.rows] == [(RowStatus.UPDATED, ["geometry"]),
                                                           (RowStatus.UNCHANGED, [])]
    assert [g["parent_code"] for g in report.gaps] == [G1]


def test_several_siblings_with_the_name_of_a_codeless_row_reject_it(tree, scheme):
    for box in ((116.0, 40.0, 116.01, 40.01), (116.02, 40.0, 116.03, 40.01)):
        services.node_create(level=level(scheme, "microgrid"), parent=tree["g1"], name="同名", auto_code=True,
                             geometry=square(*box))
    report = gridmap_import(scheme=scheme, rows=upload(feature(INSIDE_G1, name="同名", parent_code=G1)),
                            level="microgrid")
    assert "several 微网格 cells named 同名" in report.rows[0].errors["code"][0]


def test_a_changed_row_updates_the_node_and_appends_a_version(tree, scheme):
    g1 = tree["g1"]
    versions = NodeVersion.objects.filter(node=g1).count()
    rows = upload(feature(g1.geometry, code=g1.code, name="一网格（更名）", 管理类别="一类"))

    report = gridmap_import(scheme=scheme, rows=rows)

    assert report.rows[0].status == RowStatus.UPDATED
    assert report.rows[0].changed == ["management_class", "name"]
    g1.refresh_from_db()
    assert (g1.name, g1.management_class.key) == ("一网格（更名）", "1")
    assert NodeVersion.objects.filter(node=g1).count() == versions + 1


# --------------------------------------------------------------------------- export
def _populate(tree, scheme):
    gridmap_import(scheme=scheme, rows=gridmap_read(path_or_file=DATA / "microgrids_g1.geojson"))
    services.node_update(tree["g2"], node_type="dedicated", management_class="2", attributes={"备注": "学校"})


def _comparable(collection: dict) -> list[dict]:
    """Features with their polygons in normal form (the same shape may start its rings elsewhere)."""
    return [{"geometry": shapely.normalize(shape(f["geometry"])).wkt, **f["properties"]}
            for f in collection["features"]]


def test_export_reimports_to_the_same_tree(tree, scheme):
    # given a tree with micro-grids, types, classes and attributes
    _populate(tree, scheme)
    exported = gridmap_export(scheme=scheme)
    other = make_scheme()

    # when the export is imported into a fresh scheme, and into the same scheme again
    body = io.BytesIO(json.dumps(exported, ensure_ascii=False).encode())
    into_other = gridmap_import(scheme=other, rows=gridmap_read(path_or_file=body, filename="export.geojson"))
    into_same = gridmap_import(scheme=scheme, rows=gridmap_read(path_or_file=body, filename="export.geojson"))

    # then the fresh scheme exports the same features, and nothing in the old one changes
    assert into_other.counts["imported"] == len(exported["features"]) == 7
    assert _comparable(gridmap_export(scheme=other)) == _comparable(exported)
    assert into_same.counts["unchanged"] == 7
    g2 = next(f["properties"] for f in exported["features"] if f["properties"]["code"] == tree["g2"].code)
    assert g2 == {"code": tree["g2"].code, "name": "二网格", "level": "grid", "level_name": "网格",
                  "parent_code": tree["community"].code, "node_type": "dedicated", "management_class": "2",
                  "area_m2": tree["g2"].area_m2, "attributes": {"备注": "学校"}}


def test_export_of_a_subtree_and_some_levels(tree, scheme):
    _populate(tree, scheme)
    collection = gridmap_export(scheme=scheme, root=tree["g1"], levels=["微网格"])
    assert {f["properties"]["parent_code"] for f in collection["features"]} == {G1}
    assert len(collection["features"]) == 2


def test_export_as_of_a_past_date_after_a_move(tree, scheme):
    # given g1 moved to another community from a future date
    other = services.node_create(level=level(scheme, "community"), parent=tree["street"], name="另一社区",
                                 code="110117213203", geometry=square(116.0, 40.0, 116.1, 40.1), valid_from=SINCE)
    on = dt.date.today() + dt.timedelta(days=10)
    services.node_move(tree["g1"], new_parent=other, effective_date=on, reason="插花地移交")

    # when
    before = gridmap_export(scheme=scheme, root=tree["community"], as_of=on - dt.timedelta(days=1))
    after = gridmap_export(scheme=scheme, root=tree["community"], as_of=on)
    moved = gridmap_export(scheme=scheme, root=other, as_of=on)

    # then
    def codes(c):
        return {f["properties"]["code"]: f["properties"]["parent_code"] for f in c["features"]}

    assert codes(before)[G1] == tree["community"].code
    assert G1 not in codes(after)
    assert codes(moved)["110117213203001"] == "110117213203"
    assert before["as_of"] == (on - dt.timedelta(days=1)).isoformat()


# --------------------------------------------------------------------------- checking what is stored
def test_validate_finds_overlaps_gaps_and_children_sticking_out(tree, scheme):
    # given two overlapping micro-grids in g1 leaving its north empty (services do not check siblings)
    g1 = tree["g1"]
    for name, box in (("a", (116.0, 40.0, 116.05, 40.03)), ("b", (116.0, 40.02, 116.05, 40.05))):
        services.node_create(level=level(scheme, "microgrid"), parent=g1, name=name, auto_code=True,
                             geometry=square(*box))

    # when
    report = gridmaps.gridmap_validate(scheme=scheme)

    # then
    assert [(o["parent_code"], o["a"]["name"], o["b"]["name"]) for o in report.overlaps] == [(G1, "a", "b")]
    assert [g["parent_code"] for g in report.gaps] == [G1]
    assert not report.outside_parent and not report.invalid_polygons
    assert "Overlaps between siblings" in report.to_markdown()


def test_validate_of_a_clean_tree_is_clean(tree, scheme):
    report = gridmaps.gridmap_validate(scheme=scheme, root=tree["community"])
    assert report.is_clean
    assert "No problems found" in report.to_markdown()


def test_report_to_dict_is_json(tree, scheme):
    report = gridmap_import(scheme=scheme, rows=_one_good_one_bad(), level="microgrid")
    body = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert body["counts"] == {"imported": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert body["rows"][1]["errors"]["geometry"]


# --------------------------------------------------------------------------- commands
def test_import_command_prints_the_report_and_writes_it(tree, scheme, tmp_path, capsys):
    target = tmp_path / "report.md"
    call_command("import_gridmap", str(DATA / "microgrids_g1.geojson"), "--scheme", scheme.key,
                 "--report", str(target))
    out = capsys.readouterr().out
    assert "imported 2" in out
    assert target.read_text(encoding="utf-8") == out.rstrip("\n") + "\n"
    assert Node.objects.filter(parent=tree["g1"]).count() == 2


def test_import_command_fails_when_rows_are_rejected(tree, scheme, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        feature(INSIDE_G1, name="好", parent_code=G1), feature(BOWTIE, name="坏", parent_code=G1)]}))
    before = stored_counts()
    with pytest.raises(CommandError) as err:
        call_command("import_gridmap", str(path), "--scheme", scheme.key, "--level", "microgrid",
                     "--all-or-nothing")
    assert "1 of 2 rows rejected; nothing was written" in str(err.value)
    assert stored_counts() == before


def test_import_command_refuses_an_unreadable_file(scheme, tmp_path):
    path = tmp_path / "x.geojson"
    path.write_text("{")
    with pytest.raises(CommandError) as err:
        call_command("import_gridmap", str(path), "--scheme", scheme.key)
    assert str(err.value).startswith("file: not valid JSON")


def test_export_command_writes_geojson(tree, scheme, tmp_path):
    target = tmp_path / "out.geojson"
    call_command("export_gridmap", "--scheme", scheme.key, "--root", tree["community"].code, "--level", "grid",
                 "-o", str(target))
    collection = json.loads(target.read_text(encoding="utf-8"))
    assert [f["properties"]["name"] for f in collection["features"]] == ["一网格", "二网格"]
