"""Grid-map uploads cannot exhaust the server, and bad files are a clear 4xx: zip bombs, damaged zips and
.dbf files, too many features or vertices, JSON nested too deeply, files over the size cap; large dry runs
run as background tasks with a progress page; an overlapping newcomer never captures points."""

from __future__ import annotations

import io
import json
import math
import zipfile

import pytest
import shapefile
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from huey.contrib.djhuey import HUEY
from rest_framework.test import APIClient

from gridgov.accounts.tests.factories import make_staff
from gridgov.core import import_log
from gridgov.core.tests import bombs
from gridgov.territory import gridmaps, services
from gridgov.territory.locate import index_clear, locate
from gridgov.territory.models import Node
from gridgov.territory.tests.factories import SINCE, level, square

pytestmark = pytest.mark.django_db

MB = bombs.MB
IMPORT_URL = "/api/territory/gridmaps/import"


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_FILES_DIR = tmp_path / "private"


@pytest.fixture
def api(db):
    user = get_user_model().objects.create_superuser("root", password="Root-pass-2026!")
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def page(db):
    user = get_user_model().objects.create_superuser("rootpage", password="Root-pass-2026!")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def named(data: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def shapefile_zip(records, *, dbf: bytes | None = None, shp: bytes | None = None) -> bytes:
    """A zipped Shapefile of (name, polygon) records; `dbf` / `shp` replace those parts."""
    shp_io, shx_io, dbf_io = io.BytesIO(), io.BytesIO(), io.BytesIO()
    with shapefile.Writer(shp=shp_io, shx=shx_io, dbf=dbf_io, shapeType=shapefile.POLYGON, encoding="utf-8") as w:
        w.field("name", "C", 50)
        for name, polygon in records:
            w.poly(polygon["coordinates"])
            w.record(name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("cells.shp", shp if shp is not None else shp_io.getvalue())
        archive.writestr("cells.shx", shx_io.getvalue())
        archive.writestr("cells.dbf", dbf if dbf is not None else dbf_io.getvalue())
    return out.getvalue()


def post_file(api, tree, data: bytes, name: str, **extra):
    return api.post(IMPORT_URL, {"file": named(data, name), "scheme": tree["g1"].scheme.key, "dry_run": True,
                                 **extra}, format="multipart")


def file_error(res) -> str:
    assert res.status_code == 400, res.content
    return " ".join(res.json()["file"]) if isinstance(res.json()["file"], list) else res.json()["file"]


def circle(x, y, r, n) -> dict:
    ring = [[x + r * math.cos(2 * math.pi * i / n), y + r * math.sin(2 * math.pi * i / n)] for i in range(n)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


# --------------------------------------------------------------------------- archives through the API
def test_a_zip_bomb_is_a_400_naming_the_member_and_nothing_is_written(api, tree):
    # given 0.3 MB that inflates to 300 MB beside a Shapefile
    before = Node.objects.count()
    data = bombs.zip_bomb(member="cells.dbf", inflated=300 * MB, extra={"cells.shp": b"", "cells.shx": b""})

    # when / then
    assert "bomb.zip: cells.dbf inflates to 300.0 MB" in file_error(post_file(api, tree, data, "bomb.zip"))
    assert Node.objects.count() == before


def test_a_zip_lying_about_its_size_is_a_400(api, tree):
    data = bombs.lying_zip_bomb(member="cells.shp", inflated=64 * MB, claimed=2000)
    assert "liar.zip is damaged: cells.shp cannot be read" in file_error(post_file(api, tree, data, "liar.zip"))


def test_a_zip_of_many_members_is_a_400(api, tree):
    data = bombs.many_members_zip(501)
    assert "holds 501 files; an archive may hold at most 500" in file_error(post_file(api, tree, data, "many.zip"))


def test_a_zip_with_a_bad_checksum_is_a_400_not_a_500(api, tree):
    # given a sound Shapefile whose .shp bytes were altered after zipping
    sound = zipfile.ZipFile(io.BytesIO(shapefile_zip([("一", square(116.0, 40.0, 116.01, 40.01))])))
    parts = {info.filename: sound.read(info) for info in sound.infolist()}
    data = bombs.bad_crc_zip(parts)

    # when / then
    assert "crc.zip is damaged: cells.shp cannot be read" in file_error(post_file(api, tree, data, "crc.zip"))


@pytest.mark.parametrize("damage", ["truncated", "bad header length"])
def test_a_malformed_dbf_is_a_400_not_a_500(api, tree, damage):
    # given a Shapefile whose .dbf is cut short, or whose header announces a length that is not there
    good = zipfile.ZipFile(io.BytesIO(shapefile_zip([("一", square(116.0, 40.0, 116.01, 40.01))]))).read("cells.dbf")
    dbf = good[:40] if damage == "truncated" else good[:8] + (65000).to_bytes(2, "little") + good[10:]
    data = shapefile_zip([("一", square(116.0, 40.0, 116.01, 40.01))], dbf=dbf)

    # when / then
    message = file_error(post_file(api, tree, data, "cells.zip"))
    assert "cells.zip: the Shapefile is damaged and cannot be read" in message


def test_a_sound_zipped_shapefile_still_imports(api, tree):
    data = shapefile_zip([("三网格", square(116.0, 40.0, 116.01, 40.01))])
    res = post_file(api, tree, data, "cells.zip", level="microgrid")
    assert res.status_code == 200
    assert res.json()["counts"]["imported"] == 1


# --------------------------------------------------------------------------- GeoJSON
def geojson(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def feature(geometry, **properties) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def test_geojson_nested_too_deeply_is_a_400_not_a_500(api, tree):
    deep = b'{"type": "FeatureCollection", "features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert "nested too deeply (at most 32 levels)" in file_error(post_file(api, tree, deep, "deep.geojson"))


def test_a_file_over_the_feature_cap_is_refused(api, tree, settings):
    settings.GRIDMAP_MAX_FEATURES = 2
    data = geojson(*(feature(square(116.0, 40.0, 116.01, 40.01), name=f"c{i}") for i in range(3)))
    assert "map.geojson holds 3 features; a grid map may hold at most 2" in file_error(
        post_file(api, tree, data, "map.geojson"))


def test_a_polygon_with_too_many_vertices_is_a_clear_per_row_error(tree, scheme):
    # given a million-vertex-style polygon (25 001 vertices; the cap is 20 000) and a plain one
    g1 = tree["g1"]
    rows = gridmaps.gridmap_read(path_or_file=io.BytesIO(geojson(
        feature(circle(116.025, 40.05, 0.01, 25_000), name="细网格", level="microgrid", parent_code=g1.code),
        feature(square(116.0, 40.0, 116.01, 40.01), name="好网格", level="microgrid", parent_code=g1.code),
    )), filename="map.geojson")

    # when
    report = gridmaps.gridmap_import(scheme=scheme, rows=rows, dry_run=True)

    # then the row is rejected naming the count and the limit; the other row goes through
    first, second = report.rows
    assert first.status == gridmaps.RowStatus.REJECTED
    assert "the polygon has 25001 vertices; a cell may have at most 20000" in first.errors["geometry"][0]
    assert second.status == gridmaps.RowStatus.IMPORTED


def test_the_vertex_limit_holds_for_every_write_of_a_polygon(tree):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="vertices; a cell may have at most"):
        services.node_update(tree["g1"], geometry=circle(116.025, 40.05, 0.01, 25_000), reason="test")


# --------------------------------------------------------------------------- pages and the command
def test_the_page_refuses_a_file_over_the_size_cap(page, tree, settings):
    settings.UPLOAD_MAX_BYTES = {**settings.UPLOAD_MAX_BYTES, "gridmap": 1000}
    data = geojson(feature(square(116.0, 40.0, 116.01, 40.01), name="x" * 2000))
    res = page.post(reverse("manage:gridmap_import"), {"file": named(data, "big.geojson"),
                                                       "scheme": tree["g1"].scheme.key, "mode": "per_row"})
    assert res.status_code == 400
    assert "big.geojson is 0.0 MB; files of this kind may be at most 0.0 MB" in " ".join(res.context["form"].errors["file"])


def test_the_page_refuses_a_zip_bomb_with_its_reason(page, tree):
    data = bombs.zip_bomb(member="cells.shp", inflated=300 * MB)
    res = page.post(reverse("manage:gridmap_import"), {"file": named(data, "bomb.zip"),
                                                       "scheme": tree["g1"].scheme.key, "mode": "per_row"})
    assert res.status_code == 400
    assert "bomb.zip: cells.shp inflates to 300.0 MB" in " ".join(res.context["form"].errors["file"])


def test_the_command_refuses_a_zip_bomb(tree, tmp_path):
    path = bombs.write(tmp_path, "bomb.zip", bombs.zip_bomb(member="cells.shp", inflated=300 * MB))
    with pytest.raises(CommandError, match=r"file: bomb\.zip: cells\.shp inflates to 300\.0 MB"):
        call_command("import_gridmap", str(path), "--scheme", tree["g1"].scheme.key, "--dry-run")


# --------------------------------------------------------------------------- large dry runs in the background
@pytest.fixture
def queued():
    """Tasks are queued (not run at once) while the test runs; `run_all()` runs them as the consumer would."""
    HUEY.immediate = False
    HUEY.flush()

    def run_all() -> int:
        tasks = []
        while (task := HUEY.dequeue()) is not None:
            tasks.append(task)
        HUEY.immediate = True  # run in this test's transaction, as the immediate mode does
        for task in tasks:
            HUEY.execute(task)
        HUEY.immediate = False
        return len(tasks)

    yield run_all
    HUEY.flush()
    HUEY.immediate = True


def test_a_large_dry_run_is_a_background_task_with_a_progress_page(page, tree, settings, queued):
    # given a file above the inline threshold
    settings.GRIDMAP_INLINE_FEATURES = 2
    g1 = tree["g1"]
    cells = [feature(square(116.0 + i * 0.01, 40.0, 116.01 + i * 0.01, 40.01), name=f"微{i}", level="microgrid",
                     parent_code=g1.code) for i in range(3)]
    before = Node.objects.count()

    # when it is uploaded
    res = page.post(reverse("manage:gridmap_import"), {"file": named(geojson(*cells), "big.geojson"),
                                                       "scheme": g1.scheme.key, "mode": "per_row"})

    # then the request only queued the check: the page shows it working, refreshing, with its progress
    assert res.status_code == 302
    progress = page.get(res["Location"])
    record = progress.context["record"]
    assert record.state == import_log.RecordState.CHECKING
    html = progress.content.decode()
    assert 'id="gridmap-progress"' in html and 'http-equiv="refresh"' in html
    assert "0 / 3" in html and not progress.context["may_confirm"]

    # when the task runs
    assert queued() == 1

    # then the same page shows the report, and it may be confirmed; nothing was written
    done = page.get(res["Location"])
    assert done.context["record"].state == import_log.RecordState.CHECKED
    assert done.context["counts"]["imported"] == 3 and done.context["may_confirm"]
    assert 'http-equiv="refresh"' not in done.content.decode()
    assert Node.objects.count() == before

    # when confirmed, the real run is a task too
    page.post(reverse("manage:gridmap_confirm", args=[record.token]))
    assert page.get(res["Location"]).context["record"].state == import_log.RecordState.RUNNING
    assert Node.objects.count() == before
    assert queued() == 1
    assert page.get(res["Location"]).context["record"].state == import_log.RecordState.DONE
    assert Node.objects.filter(parent=g1, name__startswith="微").count() == 3


def test_a_small_dry_run_still_runs_in_the_request(page, tree):
    g1 = tree["g1"]
    data = geojson(feature(square(116.0, 40.0, 116.01, 40.01), name="微", level="microgrid", parent_code=g1.code))
    res = page.post(reverse("manage:gridmap_import"), {"file": named(data, "small.geojson"),
                                                       "scheme": g1.scheme.key, "mode": "per_row"})
    assert page.get(res["Location"]).context["record"].state == import_log.RecordState.CHECKED


# --------------------------------------------------------------------------- overlaps
def test_an_overlapping_newcomer_never_captures_points_of_the_older_cell(tree, scheme):
    # given a micro-grid of g1, and a later file drawing a small, detailed micro-grid inside it
    g1 = tree["g1"]
    older = services.node_create(level=level(scheme, "microgrid"), parent=g1, name="老网格", auto_code=True,
                                 valid_from=SINCE, geometry=square(116.0, 40.0, 116.05, 40.1))
    rows = gridmaps.gridmap_read(path_or_file=io.BytesIO(geojson(
        feature(circle(116.02, 40.05, 0.005, 500), name="新网格", level="microgrid", parent_code=g1.code))),
        filename="later.geojson")

    # when it is imported
    report = gridmaps.gridmap_import(scheme=scheme, rows=rows)
    index_clear()

    # then the overlap is reported, naming the cell that keeps the points
    (row,) = report.rows
    assert row.status == gridmaps.RowStatus.IMPORTED
    assert any(f"points in the overlap stay in the older cell {older.code}" in w for w in row.warnings)
    assert report.overlaps[0]["keeps_points"]["code"] == older.code
    # and a point inside both stays in the older cell, however small the newcomer is
    assert locate(116.02, 40.05).pk == older.pk


def test_a_large_api_import_answers_202_and_its_status_url_gives_the_report(api, tree, settings, queued):
    # given a file above the inline threshold
    settings.GRIDMAP_INLINE_FEATURES = 2
    g1 = tree["g1"]
    cells = [feature(square(116.0 + i * 0.01, 40.0, 116.01 + i * 0.01, 40.01), name=f"微{i}", level="microgrid",
                     parent_code=g1.code) for i in range(3)]

    # when it is posted for a dry run
    res = post_file(api, tree, geojson(*cells), "big.geojson")

    # then the answer comes at once, the check is queued
    assert res.status_code == 202
    body = res.json()
    assert body["state"] == "checking" and "report" not in body
    assert queued() == 1
    done = api.get(body["status_url"]).json()
    assert done["state"] == "checked" and done["report"]["counts"]["imported"] == 3
    # and the run is its owner's
    other = APIClient()
    other.force_authenticate(make_staff(g1, perms=("territory.import_territory",)))
    assert other.get(body["status_url"]).status_code == 404


def test_the_api_writes_nothing_outside_the_importers_territory(tree):
    # given staff of g2 allowed to import, and a file putting a micro-grid under g1
    user = make_staff(tree["g2"], perms=("territory.import_territory",))
    client = APIClient()
    client.force_authenticate(user)
    before = Node.objects.count()
    data = geojson(feature(square(116.0, 40.0, 116.01, 40.01), name="越界", level="microgrid",
                           parent_code=tree["g1"].code))

    # when
    res = client.post(IMPORT_URL, {"file": named(data, "map.geojson"), "scheme": tree["g1"].scheme.key},
                      format="multipart")

    # then
    assert res.status_code == 403
    assert res.json()["outside_scope"][0]["row"] == 1 and not res.json()["committed"]
    assert Node.objects.count() == before
