"""The management pages in a real browser: the territory tree opened from the keyboard, the cell's map drawing
its children (choose one on the map to open it), the people in charge, and the grid-map check report.

Screenshots go to test-artifacts/screenshots/manage-*.png."""

import json

import pytest
from django.contrib.auth.models import Permission

from gridgov.cases.tests.factories import make_loop
from gridgov.territory import services
from gridgov.territory.tests.factories import SINCE, level, make_scheme, make_tree, square
from tests.e2e.a11y import assert_accessible, no_horizontal_scroll
from tests.e2e.pages import SCREENSHOTS, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



@pytest.fixture
def loop(transactional_db):
    scheme = make_scheme("manage-e2e")
    tree = make_tree(scheme, origin=(117.10, 40.10))
    for i, (y0, y1) in enumerate([(40.10, 40.14), (40.14, 40.20)], start=1):
        services.node_create(level=level(scheme, "microgrid"), parent=tree["g1"], name=f"{i}号微网格", auto_code=True,
                             valid_from=SINCE, geometry=square(117.10, y0, 117.15, y1))
    return make_loop(scheme, tree)


def test_the_tree_opens_by_keyboard_and_the_map_draws_the_children(live_server, loop, new_page):
    page, log = new_page(locale="en-GB", width=1440, height=1000)
    tree = loop.tree
    log_in(page, live_server, loop.office, "/manage/territory/")
    # the street is the root, selected and opened: its community is listed, not yet opened
    community_toggle = page.locator(f"button[aria-controls='tree-children-{tree['community'].pk}']")
    assert community_toggle.get_attribute("aria-expanded") == "false"
    # open the community from the keyboard: focus its button, press Enter
    community_toggle.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#tree-children-{tree['community'].pk} .tree-link:has-text('一网格')")
    assert community_toggle.get_attribute("aria-expanded") == "true"
    # and the arrow keys: left closes, right opens again
    page.keyboard.press("ArrowLeft")
    assert page.locator(f"#tree-children-{tree['community'].pk}").is_hidden()
    page.keyboard.press("ArrowRight")
    assert page.locator(f"#tree-children-{tree['community'].pk}").is_visible()
    # choose the community: its panel comes in, the map draws it and its two grids
    page.locator(f"#tree-children-{tree['street'].pk} .tree-link", has_text="白云寺村").click()
    page.wait_for_selector(f".node-card[data-node-id='{tree['community'].pk}']")
    page.wait_for_selector(".node-map[data-ready='1']")
    assert page.locator(".node-map .leaflet-overlay-pane path.leaflet-interactive").count() == 2
    assert page.locator(".node-map .leaflet-overlay-pane path").count() == 3  # the community's outline too
    assert page.url.endswith(f"/manage/territory/{tree['community'].pk}/")
    page.screenshot(path=str(SCREENSHOTS / "manage-territory.png"), full_page=True)
    # choose 一网格 on the map: its panel, its two micro-grids drawn, and the tree marks it
    page.locator(".node-map .leaflet-overlay-pane path.leaflet-interactive").first.click()
    page.wait_for_selector(f".node-card[data-node-id='{tree['g1'].pk}']")
    page.wait_for_selector(".node-map[data-ready='1'][data-children='2']")
    assert page.url.endswith(f"/manage/territory/{tree['g1'].pk}/")
    assert page.locator(".tree-link[aria-current='true']").inner_text().startswith("一网格")
    assert page.locator("#node-heading").evaluate("el => el === document.activeElement")
    assert_accessible(page)
    assert log.errors == []


def test_the_territory_and_people_pages_on_a_phone(live_server, loop, new_page):
    page, log = new_page(locale="zh-CN", width=360, height=780, scale=2)
    log_in(page, live_server, loop.office, f"/manage/territory/{loop.tree['g1'].pk}/")
    page.wait_for_selector(".node-map[data-ready='1']")
    assert no_horizontal_scroll(page)
    page.goto(f"{live_server.url}/manage/people/?cell={loop.tree['community'].pk}")
    assert page.locator("#assignments tbody tr").count() == 3  # leader, two grid workers
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(SCREENSHOTS / "manage-people-phone.png"), full_page=True)
    assert_accessible(page)
    assert log.errors == []


def test_a_grid_map_check_lists_the_bad_polygon(live_server, loop, new_page, tmp_path, settings):
    settings.PRIVATE_FILES_DIR = tmp_path / "private"
    user = loop.centre
    user.user_permissions.add(Permission.objects.get(codename="import_territory"))
    file = tmp_path / "grids.geojson"
    bowtie = {"type": "Polygon", "coordinates": [[[117.10, 40.10], [117.12, 40.12], [117.12, 40.10],
                                                  [117.10, 40.12], [117.10, 40.10]]]}
    file.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "三号微网格", "level": "microgrid",
                                           "parent_code": loop.tree["g2"].code},
         "geometry": square(117.16, 40.10, 117.18, 40.12)},
        {"type": "Feature", "properties": {"name": "坏网格", "level": "grid", "parent_code": loop.tree["community"].code},
         "geometry": bowtie},
    ]}), encoding="utf-8")
    page, log = new_page(locale="en-GB")
    log_in(page, live_server, user, "/manage/territory/import/")
    page.set_input_files("#id_file", str(file))
    page.get_by_label("Reason").fill("2026 grid map")
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_selector("#rejected-rows")
    assert "坏网格" in page.locator("#rejected-rows").inner_text()
    assert "Self-intersection" in page.locator("#invalid-polygons").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "manage-gridmap-check.png"), full_page=True)
    page.get_by_role("button", name="Import 1 cell now").click()
    page.wait_for_selector(".message.success")
    assert log.errors == []
