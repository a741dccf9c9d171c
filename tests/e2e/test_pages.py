"""The public cell card and the admin's map preview and tree view, in a real browser.

Screenshots go to test-artifacts/screenshots/ (referenced by the README)."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from gridgov.accounts import services as accounts_services
from gridgov.accounts.models import RoleCategory
from gridgov.territory import services
from gridgov.territory.tests.factories import SINCE, level, make_scheme, make_tree, square
from gridgov.territory.tests.qr import svg_encodes
from tests.e2e.pages import SCREENSHOTS, enrolled_device, second_factor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Root-pass-2026!"


@pytest.fixture
def district(transactional_db):
    """The test tree (平谷区 → 金海湖镇 → 白云寺村 → two grids) with three micro-grids in 一网格 and
    its people in charge."""
    scheme = make_scheme("pinggu")
    tree = make_tree(scheme, origin=(117.10, 40.10))
    g1 = tree["g1"]
    for i, (y0, y1) in enumerate([(40.10, 40.13), (40.13, 40.165), (40.165, 40.20)], start=1):
        services.node_create(level=level(scheme, "microgrid"), parent=g1, name=f"{i}号微网格", auto_code=True,
                             valid_from=SINCE, geometry=square(117.10, y0, 117.15, y1))
    roles = {
        "leader": accounts_services.role_create(scheme=scheme, key="leader", name_zh="网格长", name_en="Grid leader",
                                                category=RoleCategory.LEADER, levels=["grid"], order=1),
        "worker": accounts_services.role_create(scheme=scheme, key="worker", name_zh="专职网格员",
                                                name_en="Full-time grid worker", category=RoleCategory.GRID_WORKER,
                                                levels=["grid"], order=2),
        "police": accounts_services.role_create(scheme=scheme, key="police", name_zh="社区民警",
                                                name_en="Community police officer", category=RoleCategory.POLICE,
                                                levels=["grid"], order=3),
    }
    for name, phone, role in [("王晓东", "13911112222", "leader"), ("张丽", "13800001111", "worker"),
                              ("李强", "010-69961234", "police")]:
        person = accounts_services.person_create(name=name, phone=phone)
        accounts_services.assignment_create(person=person, node=g1, role=roles[role], start_date=dt.date(2024, 1, 1))
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    return tree


def card_path(node, name="territory:cell-card"):
    return reverse(name, args=[node.scheme.key, node.code])


def login(page, live_server):
    device = enrolled_device(get_user_model().objects.get(username="root"))  # before the password step
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")  # the admin logs in through the site's login flow
    second_factor(page, device)
    page.wait_for_url(f"{live_server.url}/admin/")


def test_public_card_on_a_phone(live_server, district, new_page):
    # given a 360 px wide phone in Chinese
    page, log = new_page(locale="zh-CN", width=360, height=740, scale=2)
    # when
    page.goto(live_server.url + card_path(district["g1"]))
    # then
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.locator("h1").inner_text() == "一网格"
    assert page.locator(".chain li").all_inner_texts() == ["平谷区", "金海湖镇", "白云寺村"]
    people = page.locator(".person")
    assert people.count() == 3
    assert people.nth(0).locator(".role").inner_text() == "网格长"
    assert people.nth(0).locator(".name").inner_text() == "王晓东"
    assert people.nth(0).locator("a.phone").get_attribute("href") == "tel:13911112222"
    assert page.get_by_role("heading", name="负责人").is_visible()
    # nothing wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "cell-card-360.png", full_page=True)
    assert log.errors == []


def test_public_card_language_switch(live_server, district, new_page):
    # given a browser asking for English
    page, log = new_page(locale="en-US", width=360, height=740)
    page.goto(live_server.url + card_path(district["g1"]))
    assert page.get_by_role("heading", name="People in charge").is_visible()
    assert page.locator(".person .role").first.inner_text() == "Grid leader"
    # when the visitor picks Chinese
    page.get_by_role("button", name="简体中文").click()
    page.wait_for_load_state()
    # then
    assert page.get_by_role("heading", name="负责人").is_visible()
    assert page.url == live_server.url + card_path(district["g1"])
    assert log.errors == []


def test_printable_card_with_its_qr_code(live_server, district, new_page):
    page, log = new_page(locale="zh-CN", width=600, height=800, scale=2)
    page.goto(live_server.url + card_path(district["g1"], "territory:cell-card-print"))
    qr = page.locator("svg.qr")
    assert qr.is_visible()
    box = qr.bounding_box()
    assert box["width"] > 80 and abs(box["width"] - box["height"]) < 1
    # SITE_URL unset (the test settings): the QR code carries the address the page was printed from
    assert svg_encodes(qr.evaluate("el => el.outerHTML"), live_server.url + card_path(district["g1"]))
    assert page.locator(".print-card .person").count() == 3
    page.locator(".print-card").screenshot(path=SCREENSHOTS / "cell-card-print.png")
    # printed: only the card
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible() and not page.locator(".print-hint").is_visible()
    assert page.locator(".print-card").is_visible()
    # the QR code is also served on its own
    response = page.request.get(live_server.url + card_path(district["g1"], "territory:cell-qr"))
    assert response.ok and response.headers["content-type"].startswith("image/svg+xml")
    assert log.errors == []


def test_admin_map_preview_draws_the_polygons(live_server, district, new_page):
    page, log = new_page(locale="zh-CN", width=1280, height=1000)
    login(page, live_server)
    # when
    page.goto(live_server.url + reverse("admin:territory_node_change", args=[district["g1"].pk]))
    # then Leaflet drew the node, its parent's outline and its three micro-grids as SVG paths
    paths = page.locator("#node-map .leaflet-overlay-pane svg path")
    paths.first.wait_for()
    assert paths.count() == 5
    strokes = [paths.nth(i).get_attribute("stroke") for i in range(paths.count())]
    assert strokes.count("#b3261e") == 1 and strokes.count("#0b5cad") == 3 and strokes.count("#4b5563") == 1
    node_path = paths.nth(strokes.index("#b3261e"))
    assert node_path.get_attribute("d").startswith("M")
    box = node_path.bounding_box()
    assert box["width"] > 100 and box["height"] > 100  # fitted to the map, not a dot
    assert page.locator("#node-map .leaflet-tile").count() == 0  # no tile layer configured: offline
    page.locator(".node-map-module").scroll_into_view_if_needed()
    page.locator(".node-map-module").screenshot(path=SCREENSHOTS / "admin-node-map.png")
    assert log.errors == []


def test_admin_tree_expands_lazily(live_server, district, new_page):
    page, log = new_page(locale="zh-CN", width=1280, height=800)
    login(page, live_server)
    page.goto(live_server.url + reverse("admin:territory_node_changelist"))
    page.get_by_role("link", name="树形视图").click()
    tree = page.locator("#node-tree")
    assert tree.locator("> li").count() == 1
    # expand district → street → community → grid, one fetch at a time
    for name in ("平谷区", "金海湖镇", "白云寺村", "一网格"):
        item = tree.locator("li", has=page.locator(f"> .tree-row > a.tree-name:text-is('{name}')"))
        item.locator("> .tree-row > .tree-toggle").click()
        item.locator("> ul > li").first.wait_for()
        assert item.get_attribute("aria-expanded") == "true"
    grids = tree.locator("li", has=page.locator("> .tree-row > a.tree-name:text-is('白云寺村')"))
    assert grids.locator("> ul > li > .tree-row > .tree-name").all_inner_texts() == ["一网格", "二网格"]
    assert grids.locator("> ul > li").first.locator("> .tree-row > .tree-count").inner_text() == "3"
    page.screenshot(path=SCREENSHOTS / "admin-tree.png", full_page=True)
    # collapse hides the children again
    grids.locator("> .tree-row > .tree-toggle").click()
    assert not grids.locator("> ul").is_visible()
    assert log.errors == []


def test_admin_tree_opens_at_a_node(live_server, district, new_page):
    # given a micro-grid deep in the tree
    page, log = new_page(locale="en-US", width=1280, height=800)
    login(page, live_server)
    microgrid = district["g1"].children.get(name="2号微网格")
    # when the node page's "Tree view" link is followed
    page.goto(live_server.url + reverse("admin:territory_node_change", args=[microgrid.pk]))
    page.get_by_role("link", name="Tree view").click()
    # then its ancestors are expanded down to it, and it is highlighted
    selected = page.locator("#node-tree li.selected")
    selected.wait_for()
    assert selected.get_attribute("data-id") == str(microgrid.pk)
    assert page.locator("#node-tree li[aria-expanded=true]").count() == 4
    assert log.errors == []
