"""The five seed profiles: each loads, at a small scale, into the shape its seed describes; Pinggu at full size."""

import datetime as dt
import io
import random
import stat
from collections import Counter
from pathlib import Path

import pytest
import shapely
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from gridgov.accounts.models import Assignment, Person, RoleCategory
from gridgov.accounts.services import PHONE
from gridgov.seed.profiles import PROFILES, demo_passwords_read, profile_get, profile_load
from gridgov.seed.profiles.base import (
    Cell,
    PeopleMaker,
    Plan,
    apportion,
    outline,
    partition,
    plan_finalize,
)
from gridgov.territory import geometry as geo
from gridgov.territory.gridmaps import gridmap_validate
from gridgov.territory.models import ChangeKind, Level, LevelScheme, Node, NodeLineage, NodeVersion
from gridgov.territory.selectors import node_list_for_user
from gridgov.territory.services import area_tolerance_m2

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- shape checks
def current(scheme, level_key):
    return Node.objects.filter(scheme=scheme, level__key=level_key, valid_to__isnull=True)


def assert_codes_extend_parents(scheme):
    for node in Node.objects.filter(scheme=scheme, valid_to__isnull=True).select_related("level", "parent__level"):
        if node.level.code_digits:
            assert node.code.startswith(node.parent.code), node
            assert len(node.code) == len(node.parent.code) + node.level.code_digits, node
        elif node.parent is not None:
            digits = {3: 6, 4: 9, 5: 12}[node.parent.level.admin_rank]
            assert node.code[:digits] == node.parent.code[:digits], node


def assert_children_tile_parents(scheme):
    """Children lie inside their parent, do not overlap and leave no gap (tolerance of the services)."""
    nodes = list(Node.objects.filter(scheme=scheme, valid_to__isnull=True).exclude(geometry=None))
    kids = {}
    for node in nodes:
        kids.setdefault(node.parent_id, []).append(node)
    checked = 0
    for parent in nodes:
        children = kids.get(parent.pk)
        if not children:
            continue
        outer = geo.parse_geometry(parent.geometry)
        polys = [geo.parse_geometry(c.geometry) for c in children]
        tolerance = area_tolerance_m2(outer)
        for child, poly in zip(children, polys, strict=True):
            assert poly.geom_type == "Polygon", child
            assert geo.outside_area_m2(poly, outer) <= area_tolerance_m2(poly), child
        tree = shapely.STRtree(polys)
        for i, j in zip(*tree.query(polys, predicate="intersects"), strict=True):
            if i < j:
                assert geo.overlap_area_m2(polys[i], polys[j]) <= tolerance, (children[i], children[j])
        gap = outer.difference(shapely.union_all(polys, grid_size=1e-7))
        assert geo.area_m2(gap) <= tolerance, parent
        checked += 1
    assert checked
    # and the grid map importer's own validator agrees
    report = gridmap_validate(scheme=scheme)
    assert report.is_clean, report.to_markdown()


def assert_every_cell_has(scheme, level_key, *categories):
    cells = current(scheme, level_key)
    covered = set(Assignment.objects.current().filter(node__in=cells, role__category__in=categories)
                  .values_list("node", flat=True))
    assert cells.exists()
    assert set(cells.values_list("pk", flat=True)) == covered


def assert_summary(out: str, profile_key: str):
    text = out.getvalue()
    assert text.startswith(f"{profile_key}: ")
    assert "people in charge" in text and "demo logins" in text


# --------------------------------------------------------------------------- synthetic geometry and people
def test_partition_tiles_the_parent_with_areas_following_the_weights():
    # given an outline and weights, planned then made final
    rng = random.Random(7)
    parent = outline(center=(117.0, 40.0), area_km2=30, aspect=1.4, rng=rng)
    root = Plan(level="a", poly=parent)
    weights = [3.0, 1.0, 1.0, 0.2, 0.2, 2.0, 1.0]
    kids = root.divide("b", [Cell(weight=w) for w in weights], rng=rng)
    for kid in kids[:2]:
        kid.divide("c", [Cell(weight=1.0) for _ in range(5)], rng=rng)
    # when
    plan_finalize(root)
    # then every level tiles its parent after the round trip through stored GeoJSON
    for plan in root.walk():
        if not plan.children:
            continue
        outer = geo.parse_geometry(geo.to_geojson(plan.poly))
        polys = [geo.parse_geometry(geo.to_geojson(k.poly)) for k in plan.children]
        assert all(p.geom_type == "Polygon" and p.is_valid for p in polys)
        assert sum(geo.outside_area_m2(p, outer) for p in polys) < 0.01
        assert geo.area_m2(outer.difference(shapely.union_all(polys, grid_size=1e-7))) < 0.01
    shares = [geo.area_m2(k.poly) / geo.area_m2(root.poly) for k in kids]
    assert shares == pytest.approx([w / sum(weights) for w in weights], rel=1e-3)


def test_partition_is_deterministic_and_anchors_pull_pieces():
    parent = outline(center=(114.15, 22.56), area_km2=80, aspect=1.6, rng=random.Random(1))
    first = partition(parent, [1.0] * 6, rng=random.Random(3))
    again = partition(parent, [1.0] * 6, rng=random.Random(3))
    assert [p.wkt for p in first] == [p.wkt for p in again]
    east = partition(parent, [1.0] * 6, rng=random.Random(3), anchors={0: (114.30, 22.56)})
    west = partition(parent, [1.0] * 6, rng=random.Random(3), anchors={0: (114.00, 22.56)})
    assert east[0].centroid.x > west[0].centroid.x


def test_apportion_keeps_the_total_and_the_minimum():
    assert apportion(252, [68, 11, 53, 120]) == [68, 11, 53, 120]
    assert sum(apportion(25, [68, 11, 53, 120])) == 25
    assert min(apportion(969, [1.0] * 307, minimum=1)) >= 1
    assert sum(apportion(10, [5.0, 0.0, 1.0])) == 10


def test_people_are_plausible_and_deterministic():
    maker, again = PeopleMaker("x", surname_bias={"林": 50.0}), PeopleMaker("x", surname_bias={"林": 50.0})
    names = [maker.name() for _ in range(500)]
    phones = [maker.phone() for _ in range(500)]
    assert names == [again.name() for _ in range(500)]
    assert all(2 <= len(n) <= 3 for n in names)
    assert Counter(n[0] for n in names).most_common(1)[0][0] == "林"
    assert len(set(phones)) == 500
    assert all(PHONE.match(p) and p.startswith("154") for p in phones)


# --------------------------------------------------------------------------- Pinggu, full size
def test_pinggu_full_size_reproduces_baiyunsi(django_user_model):
    # when
    report = profile_load(profile_get("pinggu"))
    # then: the village, on its real code, with 15 micro-grids 12 / 1 / 2 holding 208 households
    scheme = report.scheme
    village = Node.objects.get(scheme=scheme, code="110117213202")
    assert village.name == "白云寺村委会"
    assert village.parent.code == "110117213000" and village.parent.name == "黄松峪乡"
    assert village.area_m2 == pytest.approx(4.5e6, rel=1e-3)
    micro = current(scheme, "microgrid").order_by("code")
    assert micro.count() == 15
    assert Counter(m.node_type.key for m in micro) == {"concentrated": 12, "transition": 1, "ecological": 2}
    assert sum(m.attributes["households"] for m in micro) == 208
    assert [m.code for m in micro] == [f"110117213202{i:03d}" for i in range(1, 16)]
    assert Level.objects.get(scheme=scheme, key="microgrid").name_zh == "村级微网格"
    # codes in reading order (north → south, west → east)
    centres = [(m.centroid_lon, m.centroid_lat) for m in micro]
    assert geo.reading_order(centres) == list(range(15))
    assert current(scheme, "village").count() == 323
    assert_codes_extend_parents(scheme)
    assert_children_tile_parents(scheme)
    # 1+N: one micro-grid worker in each, helpers everywhere, some serving several micro-grids
    assert_every_cell_has(scheme, "microgrid", RoleCategory.GRID_WORKER)
    assert_every_cell_has(scheme, "microgrid", RoleCategory.HELPER)
    assert Assignment.objects.filter(node__scheme=scheme, role__key="microgrid_worker").count() == 15
    postman = Assignment.objects.filter(node__scheme=scheme, role__key="postman")
    assert postman.values("person").distinct().count() == 1 and postman.count() == 12
    assert "民情收集" in Assignment.objects.filter(role__key="microgrid_worker").first().duties
    # demo logins: the kept random password opens each, and each sees its own cells
    grid_user = authenticate(username="pinggu_grid1", password=demo_passwords_read()["pinggu_grid1"])
    assert grid_user is not None
    assert list(node_list_for_user(grid_user).values_list("code", flat=True)) == ["110117213202001"]
    village_user = django_user_model.objects.get(username="pinggu_village")
    assert node_list_for_user(village_user).count() == 16
    admin = django_user_model.objects.get(username="pinggu_admin")
    assert admin.sees_everything and admin.has_perm("territory.reorganise_node")
    out = io.StringIO()
    call_command("demo_logins", stdout=out)
    for login in PROFILES["pinggu"].logins:
        assert f"{login.username:<20} {demo_passwords_read()[login.username]}" in out.getvalue()


def test_demo_logins_hide_a_changed_password_and_say_when_nothing_is_loaded(django_user_model):
    out = io.StringIO()
    call_command("demo_logins", stdout=out)
    assert "No seed profile is loaded" in out.getvalue()
    profile_load(profile_get("pinggu"))
    user = django_user_model.objects.get(username="pinggu_town")
    printed = demo_passwords_read()["pinggu_town"]
    user.set_password("Someone-changed-it-42")
    user.save()
    out = io.StringIO()
    call_command("demo_logins", "pinggu", stdout=out)
    assert "changed since loading" in out.getvalue()
    assert printed not in out.getvalue()
    # and the clear text is gone from the kept file, while the others stay
    assert "pinggu_town" not in demo_passwords_read() and "pinggu_grid1" in demo_passwords_read()


def test_demo_passwords_are_random_per_installation_and_kept_only_in_a_private_file(django_user_model, settings):
    # given one installation's load of the demo district
    profile_load(profile_get("pinggu"))
    first = demo_passwords_read()
    kept = Path(settings.DEMO_LOGINS_FILE)
    # when the same code, with the same SECRET_KEY, loads it again (another installation)
    call_command("load_profile", "pinggu", "--replace", stdout=io.StringIO())
    second = demo_passwords_read()
    # then every password differs (nothing derives them from SECRET_KEY), opens its login, is kept for
    # printing only in a file that nobody else may read, and the database holds only its hash
    logins = [lg.username for lg in PROFILES["pinggu"].logins]
    assert sorted(first) == sorted(second) == sorted(logins)
    assert all(first[u] != second[u] for u in logins)
    assert authenticate(username=logins[0], password=second[logins[0]]) is not None
    assert authenticate(username=logins[0], password=first[logins[0]]) is None
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    stored = django_user_model.objects.get(username=logins[0]).password
    assert stored.startswith(("md5$", "argon2")) and second[logins[0]] not in stored


def test_load_profile_refuses_a_loaded_profile_skips_it_if_empty_and_replaces_it():
    with pytest.raises(CommandError, match="scale"):
        call_command("load_profile", "pinggu", "--scale", "0", stdout=io.StringIO(), stderr=io.StringIO())
    out, err = io.StringIO(), io.StringIO()
    call_command("load_profile", "pinggu", stdout=out, stderr=err)
    assert_summary(out, "pinggu")
    assert "[pinggu" in err.getvalue()  # progress on stderr
    first_ids = set(Node.objects.filter(scheme__key="pinggu").values_list("pk", flat=True))
    with pytest.raises(CommandError, match=r"already loaded.*--replace"):
        call_command("load_profile", "pinggu", stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    call_command("load_profile", "pinggu", "--if-empty", stdout=out, stderr=io.StringIO())
    assert "nothing to do" in out.getvalue()
    people = Person.objects.count()
    call_command("load_profile", "pinggu", "--replace", stdout=io.StringIO(), stderr=io.StringIO())
    assert LevelScheme.objects.filter(key="pinggu").count() == 1
    assert not first_ids & set(Node.objects.filter(scheme__key="pinggu").values_list("pk", flat=True))
    assert Person.objects.count() == people
    assert get_user_model().objects.filter(username__startswith="pinggu_").count() == 6


def test_a_taken_demo_username_is_refused_before_anything_is_written(django_user_model):
    django_user_model.objects.create_user(username="luohu_admin", password="Not-the-demo-one-42")
    with pytest.raises(ValidationError, match="luohu_admin"):
        profile_load(profile_get("luohu"), scale=0.05)
    assert not LevelScheme.objects.filter(key="luohu").exists()


# --------------------------------------------------------------------------- the others, small
def test_haimen_grids_and_micro_grids_of_50_to_100_households():
    report = profile_load(profile_get("haimen"), scale=0.02)
    scheme = report.scheme
    grids, micro = current(scheme, "grid"), current(scheme, "microgrid")
    assert grids.count() == round(969 * 0.02) and micro.count() == round(5783 * 0.02)
    assert current(scheme, "village").count() == 307 and current(scheme, "district").get().code == "320614000000"
    assert all(50 <= m.attributes["households"] <= 100 for m in micro)
    assert all(g.attributes["households"] == sum(m.attributes["households"] for m in g.children.all())
               for g in grids)
    # the station is named; no checklist nor service circle is typed in as if it were a record
    assert all(g.attributes["station"] == {"name": f"{g.name}党建引领网格驿站"} for g in grids)
    assert not any("service_circle_minutes" in m.attributes for m in micro)
    assert_codes_extend_parents(scheme)
    assert_children_tile_parents(scheme)
    assert_every_cell_has(scheme, "grid", RoleCategory.GRID_WORKER)
    assert_every_cell_has(scheme, "microgrid", RoleCategory.GRID_WORKER)
    assert_every_cell_has(scheme, "microgrid", RoleCategory.LEADER)
    # 三个一肩挑: the grid leader is the grid's party branch secretary
    leaders = Assignment.objects.filter(node__scheme=scheme, role__key="grid_leader")
    assert all(Assignment.objects.filter(person=a.person, node=a.node, role__key="grid_party_secretary").exists()
               for a in leaders)
    # police 1+N: an officer linked to several grids
    per_officer = Counter(Assignment.objects.filter(node__scheme=scheme, role__key="community_police")
                          .values_list("person", flat=True))
    assert max(per_officer.values()) > 1
    police = get_user_model().objects.get(username="haimen_police")
    assert node_list_for_user(police).filter(level__key="grid").count() > 1


def test_licheng_comprehensive_and_dedicated_grids_and_units():
    report = profile_load(profile_get("licheng"), scale=0.05)
    scheme = report.scheme
    street = Node.objects.get(scheme=scheme, code="350304001000")
    assert street.name == "镇海街道" and street.area_m2 == pytest.approx(7.5e6, rel=1e-3)
    grids, units = current(scheme, "grid"), current(scheme, "unit")
    assert grids.count() == 13 and units.count() == round(4565 * 0.05)
    assert all(g.parent.parent_id == street.pk for g in grids)
    assert Counter(g.node_type.key for g in grids)["dedicated"] == 1
    assert Counter(u.node_type.key for u in units)["dedicated"] == round(176 * 0.05)
    assert all(u.node_type.key == "dedicated" for g in grids.filter(node_type__key="dedicated")
               for u in g.children.all())
    assert sum(g.attributes.get("residents", 0) for g in grids) == round(99_806 * 0.05)
    assert_codes_extend_parents(scheme)
    assert_children_tile_parents(scheme)
    assert_every_cell_has(scheme, "grid", RoleCategory.GRID_WORKER)
    # a comprehensive unit's leader counts as its grid worker (he receives and handles what is reported in
    # it), a dedicated unit's is the entity's responsible person
    assert_every_cell_has(scheme, "unit", RoleCategory.GRID_WORKER, RoleCategory.LEADER)
    unit_leaders = Assignment.objects.filter(node__scheme=scheme, role__key="unit_leader")
    assert unit_leaders.values("person").distinct().count() == round(607 * 0.05)
    dedicated = Assignment.objects.filter(node__scheme=scheme, role__key="dedicated_unit_leader")
    assert dedicated.values("person").distinct().count() == round(176 * 0.05)


def test_luohu_comprehensive_grids_by_property_form_merged_from_community_grids():
    report = profile_load(profile_get("luohu"), scale=0.1)
    scheme = report.scheme
    grids = current(scheme, "grid")
    assert Counter(g.node_type.key for g in grids) == dict(zip(
        ["residential", "industrial_commercial", "urban_village", "mixed"], apportion(25, [68, 11, 53, 120]),
        strict=True))
    assert {g.management_class.key for g in grids} <= {"class_1", "class_2", "class_3"}
    # the property building leaders are assignments; no count of them nor of a checklist is typed into the cells
    assert not any({"estates_with_property_building_leaders", "party_checklist_items"} & set(g.attributes)
                   for g in grids)
    assert Assignment.objects.filter(node__scheme=scheme, role__key="property_building_leader").exists()
    # history: the community grids were merged on the reform date, each comprehensive grid from several
    old = Node.objects.filter(scheme=scheme, level__key="grid", valid_to__isnull=False)
    assert old.count() == round(1135 * 0.1)
    assert set(old.values_list("valid_to", flat=True)) == {dt.date(2023, 1, 1)}
    links = NodeLineage.objects.filter(kind=ChangeKind.MERGE, successor__scheme=scheme)
    assert links.count() == old.count() and set(links.values_list("successor", flat=True)) == set(
        grids.values_list("pk", flat=True))
    assert_codes_extend_parents(scheme)
    assert_children_tile_parents(scheme)
    assert_every_cell_has(scheme, "grid", RoleCategory.GRID_WORKER)
    assert_every_cell_has(scheme, "grid", RoleCategory.LEADER)
    # staffing by management class: the harder the grid, the more comprehensive grid workers
    workers = Counter(Assignment.objects.filter(node__scheme=scheme, role__key="grid_worker")
                      .values_list("node__management_class__key", "node"))
    assert {klass: n for (klass, _node), n in workers.items()} == {
        klass: {"class_1": 5, "class_2": 4, "class_3": 3}[klass] for klass, _node in workers}


def test_xiangyang_history_moves_estates_and_splits_oversized_communities():
    report = profile_load(profile_get("xiangyang"), scale=0.1)
    scheme = report.scheme
    assert current(scheme, "district").get().code == "420602000000"  # 襄城区, the pilot
    grids = current(scheme, "grid")
    assert grids.count() == round(477 * 0.1)
    assert Assignment.objects.filter(node__scheme=scheme, role__key="grid_worker").count() == grids.count()
    # owners' committees are their directors' assignments, in estates only; no flag is typed into the cells
    assert not any({"merged_networks", "owners_committee", "three_party_platform"} & set(g.attributes) for g in grids)
    directors = Assignment.objects.filter(node__scheme=scheme, role__key="owners_committee_director")
    assert directors.exists() and all(d.node.node_type.key == "estate" for d in directors)
    moves = NodeVersion.objects.filter(node__scheme=scheme, node__level__key="grid", change=ChangeKind.MOVE,
                                       valid_from=dt.date(2020, 12, 31))
    assert moves.count() == round(56 * 0.1)
    for move in moves:
        before = NodeVersion.objects.get(node=move.node, valid_to=move.valid_from)
        assert before.parent_id != move.parent_id and before.code != move.code
    splits = Node.objects.filter(scheme=scheme, level__key="community", valid_to=dt.date(2020, 6, 30))
    assert splits.count() == 1
    successors = Node.objects.filter(predecessor_links__predecessor__in=splits)
    assert successors.count() == 2 and all(s.children.exists() for s in successors)
    assert_codes_extend_parents(scheme)
    assert_children_tile_parents(scheme)
    assert_every_cell_has(scheme, "grid", RoleCategory.GRID_WORKER)
