"""The cells carry their names on the maps (permanent labels, written as text), labels too big for their cell
are hidden until the map zooms in, and the GCJ-02 conversion behind the AMap base map gives the published
points."""

import pytest
from django.contrib.auth import get_user_model

from gridgov.cases.tests.factories import make_loop
from gridgov.territory import services
from gridgov.territory.tests.factories import make_scheme, make_tree
from tests.e2e.pages import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HOSTILE_NAME = '<img src=x id="injected">二网格'
ROOT_PASSWORD = "Root-pass-2026!"


@pytest.fixture
def loop(transactional_db):
    scheme = make_scheme("labels-e2e")
    tree = make_tree(scheme, origin=(117.10, 40.10))
    return make_loop(scheme, tree)


def _labels(page, scope: str) -> list[str]:
    return sorted(page.locator(f"{scope} .leaflet-tooltip.cell-name:not(.cell-name-hidden)").all_inner_texts())


def test_the_management_map_writes_each_cell_name_on_it(live_server, loop, new_page):
    # given a community with two grids
    page, log = new_page(locale="zh-CN", width=1280, height=900)
    tree = loop.tree
    # when its map is opened
    log_in(page, live_server, loop.office, f"/manage/territory/{tree['community'].pk}/")
    page.wait_for_selector(".node-map[data-ready='1']")
    # then each grid's name is written on it, without hovering
    assert _labels(page, ".node-map") == sorted([tree["g1"].name, tree["g2"].name])
    # when the map is zoomed far out, the cells are too small to carry a name: the labels step aside
    page.locator(".node-map").evaluate("el => el.dataset.ready = ''")
    hidden = "() => document.querySelectorAll('.node-map .cell-name-hidden').length"
    for _ in range(12):  # a click during the zoom animation is dropped by Leaflet: step until the labels step aside
        page.locator(".node-map .leaflet-control-zoom-out").click()
        page.wait_for_timeout(400)
        if page.evaluate(hidden) == 2:
            break
    assert page.evaluate(hidden) == 2
    assert _labels(page, ".node-map") == []
    assert log.errors == []


def test_a_cell_name_is_written_as_text_never_as_html(live_server, loop, new_page):
    # given a grid whose name holds markup
    tree = loop.tree
    services.node_update(tree["g2"], name=HOSTILE_NAME, reason="rename")
    page, log = new_page(locale="zh-CN", width=1280, height=900)
    # when the community's map is drawn
    log_in(page, live_server, loop.office, f"/manage/territory/{tree['community'].pk}/")
    page.wait_for_selector(".node-map[data-ready='1']")
    # then the name is shown as it was typed, and no element came out of it
    assert HOSTILE_NAME in _labels(page, ".node-map")
    assert page.locator("#injected").count() == 0
    assert log.errors == []


def test_the_admin_node_map_names_the_children(live_server, loop, new_page):
    # given the admin's change page of the community, in a superuser's session
    root = get_user_model().objects.create_superuser("root", password=ROOT_PASSWORD)
    page, log = new_page(locale="zh-CN", width=1280, height=900)
    tree = loop.tree
    # when it is opened
    log_in(page, live_server, root, f"/admin/territory/node/{tree['community'].pk}/change/", password=ROOT_PASSWORD)
    page.wait_for_selector("#node-map[data-ready='1']")
    # then the children's names are written on the map
    assert _labels(page, "#node-map") == sorted([tree["g1"].name, tree["g2"].name])
    assert log.errors == []


@pytest.mark.parametrize(("wgs", "gcj"), [
    # published pairs (WGS-84 → GCJ-02): Shanghai, Shenzhen, Beijing
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
])
def test_the_gcj02_conversion_gives_the_published_points(live_server, loop, new_page, wgs, gcj):
    # given any page with the map script
    page, _log = new_page()
    log_in(page, live_server, loop.office, f"/manage/territory/{loop.tree['community'].pk}/")
    page.wait_for_selector(".node-map[data-ready='1']")
    # when a WGS-84 point is converted to GCJ-02 and back
    there = page.evaluate("([lat, lng]) => gridgovMap.gcj02.fromWgs(lat, lng)", list(wgs))
    back = page.evaluate("([lat, lng]) => gridgovMap.gcj02.toWgs(lat, lng)", there)
    # then it lands on the published point (within 2 m), and the way back gives the point again
    assert there == pytest.approx(list(gcj), abs=2e-5)
    assert back == pytest.approx(list(wgs), abs=1e-8)
    # and a point outside China is left as it is
    assert page.evaluate("() => gridgovMap.gcj02.fromWgs(48.8566, 2.3522)") == [48.8566, 2.3522]
