"""User text never becomes markup (issue 11, item 4), in a real browser: a cell renamed by a district operator to
`<img src=x onerror=alert(1)>`, and a micro-grid imported from a GeoJSON file under such a name, show as text in
the management tree and its map's tooltips, the admin's map, the command centre, the dashboard, the phone's
map and the case page. No dialog opens, no image "x" is requested, and the Content-Security-Policy refuses
nothing on any of these pages (the console log of conftest.py reports violations and dialogs as errors)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from gridgov.cases.models import Case, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.territory import services
from gridgov.territory.tests.factories import make_scheme, make_tree, square
from tests.e2e.pages import enrolled_device, log_in, second_factor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RENAMED = "<img src=x onerror=alert(1)>"
IMPORTED = "<img src=x onerror=alert(2)>"
ROOT_PASSWORD = "Root-pass-2026!"


@pytest.fixture
def district(transactional_db):
    scheme = make_scheme("markup")
    tree = make_tree(scheme, origin=(117.10, 40.10))
    loop = make_loop(scheme, tree)
    # a district operator renames grid 1
    services.node_update(tree["g1"], name=RENAMED, reason="rename")
    lon, lat = point_in(tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001", lon=lon, lat=lat,
                       description=f"占道经营 {RENAMED}").case
    case = case_transition(case=case, actor=loop.office, action="register")
    case_transition(case=case, actor=loop.office, action="dispatch")
    get_user_model().objects.create_superuser("root", password=ROOT_PASSWORD)
    return loop


def requests_to_x(page) -> list[str]:
    seen = []
    page.on("request", lambda r: seen.append(r.url) if r.url.rstrip("/").endswith("/x") else None)
    return seen


def tooltip_after_hover(page, path_locator, *, corner: bool = True) -> str:
    """Hover a shape of a Leaflet map (near its corner, clear of the markers in its middle); the text of the
    tooltip it opens (which must hold no element made of data)."""
    path_locator.hover(position={"x": 6, "y": 6} if corner else None)
    tooltip = page.locator(".leaflet-tooltip").last
    tooltip.wait_for()
    assert tooltip.locator("img").count() == 0
    return tooltip.inner_text()


def assert_text_not_markup(page, text: str) -> None:
    # the name is on the page as text, and no <img src="x"> was made of it anywhere
    assert page.get_by_text(text, exact=False).count() >= 1
    assert page.locator("img[src='x']").count() == 0


def test_a_renamed_cell_is_text_in_the_management_map_the_centre_and_the_dashboard(live_server, district,
                                                                                      new_page):
    loop = district
    page, log = new_page(locale="en-GB", width=1440, height=1000)
    fetched_x = requests_to_x(page)
    log_in(page, live_server, loop.centre, f"/manage/territory/{loop.tree['community'].pk}/")
    # management: the tree lists the grid by its name, the community's map shows it in the grid's tooltip
    page.wait_for_selector(".node-map[data-ready='1']")
    assert_text_not_markup(page, RENAMED)
    grids = page.locator(".node-map .leaflet-overlay-pane path.leaflet-interactive")
    texts = [tooltip_after_hover(page, grids.nth(i)) for i in range(grids.count())]
    assert any(t.startswith(RENAMED) for t in texts), texts
    # the command centre: the cell's tooltip and the queue
    page.goto(f"{live_server.url}/centre/?cell={loop.tree['community'].pk}")
    page.wait_for_selector("#centre-map[data-ready='1']")
    assert tooltip_after_hover(page, page.locator(f"path.centre-cell[data-cell='{loop.tree['g1'].pk}']")) \
        .startswith(RENAMED)
    # the dashboard: the small map of the cells below and the charts naming them
    page.goto(f"{live_server.url}/dashboard/?cell={loop.tree['community'].pk}")
    page.wait_for_selector("#child-map[data-ready='1']")
    cells = page.locator("#child-map path.child-cell")
    texts = [tooltip_after_hover(page, cells.nth(i)) for i in range(cells.count())]
    assert any(t.startswith(RENAMED) for t in texts), texts
    assert_text_not_markup(page, RENAMED)
    # the cells chart names it in its SVG, and its tooltip (drawn in the SVG too) opens without inline styles
    chart = page.locator("#chart-cells[data-ready='1']")
    chart.hover()
    page.wait_for_timeout(300)
    assert any("<img src=x" in t for t in chart.locator("svg text").all_text_contents())
    assert chart.locator("img").count() == 0
    page.wait_for_timeout(300)
    assert fetched_x == []
    assert log.errors == []


def test_a_renamed_cell_is_text_on_the_case_page_and_the_admin_map(live_server, district, new_page):
    loop = district
    case = Case.objects.get()
    page, log = new_page(locale="en-GB", width=1440, height=1000)
    fetched_x = requests_to_x(page)
    # the case page: its place names the cell, its description shows the markup typed into it as text
    log_in(page, live_server, loop.centre, reverse("cases:detail", args=[case.number]))
    page.wait_for_selector("#case-map[data-ready='1']")
    assert_text_not_markup(page, RENAMED)
    assert tooltip_after_hover(page, page.locator("#case-map path.leaflet-interactive").last,
                               corner=False) == case.number
    # the admin's map of the grid, in a superuser's session
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.context.clear_cookies()
    device = enrolled_device(get_user_model().objects.get(username="root"))  # before the password step
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", ROOT_PASSWORD)
    page.click("main button[type=submit]")  # the admin logs in through the site's login flow
    second_factor(page, device)
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(live_server.url + reverse("admin:territory_node_change", args=[loop.tree["g1"].pk]))
    page.locator("#node-map .leaflet-overlay-pane svg path").first.wait_for()
    node = page.locator("#node-map .leaflet-overlay-pane svg path[stroke='#b3261e']")
    assert tooltip_after_hover(page, node) == f"{loop.tree['g1'].code} {RENAMED}"
    assert page.locator("img[src='x']").count() == 0
    # and the API docs work under the policy
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info")
    page.wait_for_timeout(300)
    assert fetched_x == []
    assert log.errors == []


def test_a_renamed_cell_is_text_on_the_phone_map(live_server, district, new_page):
    loop = district
    page, log = new_page(locale="zh-CN", width=360, height=740, scale=2)
    fetched_x = requests_to_x(page)
    log_in(page, live_server, loop.worker, "/m/report/")
    page.wait_for_selector("[data-map][data-ready='1']")
    assert tooltip_after_hover(page, page.locator("[data-map] path.leaflet-interactive").first) == RENAMED
    page.goto(f"{live_server.url}/m/")
    assert_text_not_markup(page, RENAMED)
    page.wait_for_timeout(300)
    assert fetched_x == []
    assert log.errors == []


def test_a_cell_imported_from_geojson_with_markup_in_its_name_is_text(live_server, district, new_page, tmp_path,
                                                                     settings):
    # given a grid map whose micro-grid is named with markup
    settings.PRIVATE_FILES_DIR = tmp_path / "private"
    loop = district
    user = loop.centre
    user.user_permissions.add(Permission.objects.get(codename="import_territory"))
    file = tmp_path / "grids.geojson"
    file.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": IMPORTED, "level": "microgrid", "parent_code": loop.tree["g2"].code},
         "geometry": square(117.16, 40.10, 117.18, 40.12)},
    ]}), encoding="utf-8")
    page, log = new_page(locale="en-GB", width=1440, height=1000)
    fetched_x = requests_to_x(page)
    # when it is checked and imported through the management page
    log_in(page, live_server, user, "/manage/territory/import/")
    page.set_input_files("#id_file", str(file))
    page.get_by_label("Reason").fill("2026 grid map")
    page.get_by_role("button", name="Check the file").click()
    page.get_by_role("button", name="Import 1 cell now").wait_for()
    assert page.locator("img[src='x']").count() == 0
    page.get_by_role("button", name="Import 1 cell now").click()
    page.wait_for_selector(".message.success")
    # then grid 2's map names it as text in its tooltip, and the tree lists it as text
    page.goto(f"{live_server.url}/manage/territory/{loop.tree['g2'].pk}/")
    page.wait_for_selector(".node-map[data-ready='1'][data-children='1']")
    text = tooltip_after_hover(page, page.locator(".node-map .leaflet-overlay-pane path.leaflet-interactive").first)
    assert text.startswith(IMPORTED)
    assert_text_not_markup(page, IMPORTED)
    page.wait_for_timeout(300)
    assert fetched_x == []
    assert log.errors == []


def test_the_dom_helper_makes_text_and_refuses_handlers_and_script_urls(live_server, district, new_page):
    # given any page (they all load gridgov/dom.js)
    page, log = new_page(locale="en-GB")
    page.goto(f"{live_server.url}/login/")
    # when elements are built from data with markup, and with handlers, styles or script URLs
    result = page.evaluate("""() => {
      const el = gridgovDom.el;
      const node = el("p", { className: "x", dataset: { id: "<b>" } }, ["<b>bold</b>", el("br"), 3, null]);
      const refused = [{ onclick: "alert(1)" }, { href: "javascript:alert(1)" }, { href: " javascript:alert(1)" },
                       { href: "//evil.example" }, { href: "/\\\\evil.example" }, { style: "color: red" },
                       { innerHTML: "<b>x</b>" }, { srcdoc: "<b>" }]
        .map((attrs) => { try { el("a", attrs); return false; } catch (e) { return true; } });
      const allowed = el("a", { href: "/cases/1/" }, "ok").getAttribute("href");
      return { html: node.outerHTML, text: node.textContent, refused, allowed };
    }""")
    # then the markup is text, and every handler, style and foreign or script URL is refused
    assert result["html"] == '<p class="x" data-id="&lt;b&gt;">&lt;b&gt;bold&lt;/b&gt;<br>3</p>'
    assert result["text"] == "<b>bold</b>3"
    assert result["refused"] == [True] * 8
    assert result["allowed"] == "/cases/1/"
    assert log.errors == []
