"""Shared machinery of the seed profiles: what a profile declares, and how it is loaded.

A `Profile` declares a deployment — its level scheme, vocabularies, role catalogue and demo logins — and
a `build` function that fills the territory and the people in charge through a `Build`. Everything is
synthetic except the administrative divisions (real codes and names from the shipped division data) and
the published sizes of each seed system, and everything is deterministic: the same profile at the same
scale always yields the same polygons, names, phones and codes.

Synthetic data, on purpose:
- polygons: a district outline of the real area around the real centre, cut recursively into children
  whose areas follow given weights (and pulled towards the real place of named towns); all boundaries
  are then noded together on a grid coarser than the stored one, so children tile their parent exactly
  (no gaps, no overlaps, all inside) and stay so once stored;
- people: plausible 姓 + 名 with the region's common surnames weighted up; work phones in the 154 number
  segment, not allocated to any carrier when this was written, so a demo card never prints a number
  that reaches a real subscriber;
- demo passwords: random per installation (`demo_password_new`), stored as hashes in the database; the
  clear text is kept only in `DEMO_LOGINS_FILE` (mode 600, outside git) so that `make run` /
  `demo_logins` can print it, and only while it still opens the login: once a demo user changes the
  password (or the login is deleted or deactivated) `demo_logins` forgets it from the file.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import secrets
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import shapely
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box
from tqdm import tqdm

from gridgov.accounts import services as account_services
from gridgov.accounts.models import Assignment, Person, Role
from gridgov.core.audit import audit_record
from gridgov.seed.demo_people import demo_estimate, demo_people_load, demo_people_unload
from gridgov.seed.profiles.loop import LoopReport, LoopSpec, profile_loop_apply, profile_loop_clear
from gridgov.territory import geometry as geo
from gridgov.territory import services
from gridgov.territory.bulk import NodeRow, nodes_bulk_upsert
from gridgov.territory.divisions import DivisionRow, division_rows
from gridgov.territory.models import (
    IssuedCode,
    Level,
    LevelScheme,
    Node,
    NodeLineage,
    NodeVersion,
    Term,
)

GRID_SIZE = 10.0 ** -geo.COORD_DECIMALS  # the precision the territory stores (~1 cm)
# Planned boundaries are snap-rounded ten times coarser (~10 cm) than stored: no edge then passes
# within a stored pixel of a vertex, so rounding for storage never moves or removes anything.
PLAN_GRID_SIZE = GRID_SIZE * 10
KM_PER_DEG_LAT = 110.574


# =========================================================================== declarations
@dataclass(frozen=True)
class RoleSpec:
    """A role of the profile's catalogue; `levels` are level keys (empty = any level)."""

    key: str
    name_zh: str
    name_en: str
    category: str
    levels: tuple[str, ...] = ()
    grants_scope: bool = True
    duties: str = ""
    reveals_personal_data: bool = False


# base data (三实): every demo login may list them (masked; scope still applies)
PEOPLE_VIEW_PERMS = tuple(f"people.view_{model}" for model in (
    "building", "house", "household", "resident", "legalentity", "specialgroup", "groupmembership", "partymember",
    "householdpairing", "volunteer"))
VIEW_PERMS = (
    "territory.view_levelscheme", "territory.view_level", "territory.view_term", "territory.view_node",
    "territory.view_nodeversion", "territory.view_nodelineage",
    "accounts.view_role", "accounts.view_person", "accounts.view_assignment",
    *PEOPLE_VIEW_PERMS,
)
# the district grid office keeps the base data: writes them, imports and exports them, reveals them in its
# territory (each reveal logged); the access log itself and erasure (PIPL) are for no demo login
PEOPLE_OPERATOR_PERMS = (
    "people.reveal_personal_data", "people.view_recordhistory", "people.view_datajob", "people.add_datajob",
    *(f"people.{action}_{model}" for model in ("building", "house", "household", "resident", "legalentity",
                                               "groupmembership", "partymember", "householdpairing", "volunteer")
      for action in ("add", "change")),
)
OPERATOR_PERMS = (*VIEW_PERMS, "territory.add_node", "territory.change_node", "territory.reorganise_node",
                  "territory.import_territory", "accounts.add_person", "accounts.change_person",
                  "accounts.add_assignment", "accounts.change_assignment", *PEOPLE_OPERATOR_PERMS)
# a profile small enough (in estimated residents) gets its synthetic base data unless told otherwise
PEOPLE_AUTO_LIMIT = 3_000


@dataclass(frozen=True)
class DemoLogin:
    """A demo staff login; `what_zh`/`what_en` say who it stands for (the scope is read from assignments)."""

    username: str
    what_zh: str
    what_en: str
    sees_everything: bool = False
    perms: tuple[str, ...] = VIEW_PERMS


def department_handler_login(key: str) -> DemoLogin:
    """The profile's demo department handler `<key>_dept`: no cell of its own, a member of every department's
    default team once the loop is applied, and the applicant of the profile's admissions."""
    return DemoLogin(f"{key}_dept", "职能部门处置人员（各部门默认组）",
                     "Department handler (in every department's default team)")


@dataclass(frozen=True)
class Profile:
    key: str  # also the level scheme's key
    county: str  # 6-digit code of the county-level division it is built on
    name_zh: str
    name_en: str
    seed: str  # the seed document it reproduces
    summary: str  # one line: what loading it gives
    description: str  # stored on the scheme
    levels: tuple[dict[str, Any], ...]
    terms: dict[str, tuple[dict[str, str], ...]]
    roles: tuple[RoleSpec, ...]
    logins: tuple[DemoLogin, ...]
    build: Callable[[Build], None]
    surname_bias: dict[str, float] = field(default_factory=dict)
    loop: LoopSpec | None = None  # departments and duty lists of its closed loop (`loop.profile_loop_apply`)


# =========================================================================== divisions
_county_rows: dict[str, list[DivisionRow]] = {}


def county_rows(county: str) -> list[DivisionRow]:
    """The county and its towns and villages from the shipped divisions, top-down (kept per process)."""
    if county not in _county_rows:
        _county_rows[county] = [row for row in division_rows(county) if row.rank >= 3]
    return _county_rows[county]


# =========================================================================== synthetic geometry
def outline(*, center: tuple[float, float], area_km2: float, aspect: float = 1.0, tilt_deg: float = 0.0,
            rng: random.Random, vertices: int = 40) -> Polygon:
    """An irregular district outline of `area_km2` around `center` (lon, lat), `aspect` wide by 1 high,
    turned by `tilt_deg`: a star-shaped blob (radius 1 ± a few harmonics), hence always simple."""
    lon0, lat0 = center
    km_per_deg_lon = 111.320 * math.cos(math.radians(lat0))
    harmonics = [(k, rng.uniform(0.04, 0.11) / math.sqrt(k - 1), rng.uniform(0, 2 * math.pi)) for k in range(2, 7)]
    tilt = math.radians(tilt_deg)
    points = []
    for i in range(vertices):
        t = 2 * math.pi * i / vertices
        r = (1 + sum(a * math.sin(k * t + phase) for k, a, phase in harmonics)) * rng.uniform(0.97, 1.03)
        x, y = r * math.cos(t) * aspect, r * math.sin(t)
        points.append((x * math.cos(tilt) - y * math.sin(tilt), x * math.sin(tilt) + y * math.cos(tilt)))
    scale = math.sqrt(area_km2 / Polygon(points).area)
    blob = Polygon([(lon0 + x * scale / km_per_deg_lon, lat0 + y * scale / KM_PER_DEG_LAT) for x, y in points])
    return _single(shapely.set_precision(blob, GRID_SIZE))


def partition(parent: Polygon | MultiPolygon, weights: Sequence[float], *, rng: random.Random,
              jitter_deg: float = 15.0, grid_size: float | None = GRID_SIZE,
              anchors: dict[int, tuple[float, float]] | None = None) -> list[Polygon | MultiPolygon]:
    """Cut `parent` into len(weights) pieces whose areas are proportional to `weights`.

    Recursive bisection: the list is split where its cumulative weight is nearest half (so neighbours in
    the list stay neighbours on the map), the polygon is cut across its long axis (turned by a random
    jitter, as streets are) at the offset giving that share of the area, found by bisection. Both sides
    come from one overlay, so the pieces tile the parent: valid, inside it, no overlaps, no gaps. A cut
    that would leave a side in several parts is tried at other angles; if every angle does, the stray
    fragments go to the other side (they touch it along the cut). `anchors` ({index: (lon, lat)}) pull
    pieces towards a place: of the two ways round a cut, the one nearer the anchors is kept."""
    if not weights:
        return []
    if any(w <= 0 for w in weights):
        raise ValueError("partition weights must be positive")
    anchors = anchors or {}
    out: list[Any] = [None] * len(weights)
    start = shapely.set_precision(parent, grid_size) if grid_size else parent
    stack = [(start, list(range(len(weights))))]
    while stack:
        poly, idx = stack.pop()
        if len(idx) == 1:
            out[idx[0]] = poly
            continue
        total = sum(weights[i] for i in idx)
        cumulative, best_m, best_gap = 0.0, 1, math.inf
        for m in range(1, len(idx)):
            cumulative += weights[idx[m - 1]]
            gap = abs(cumulative - total / 2)
            if gap < best_gap:
                best_m, best_gap = m, gap
        share = sum(weights[i] for i in idx[:best_m]) / total
        angle = _long_axis_deg(poly) + rng.uniform(-jitter_deg, jitter_deg)
        left, right = _bisect(poly, share, angle, grid_size=grid_size)
        pulls = ([anchors[i] for i in idx[:best_m] if i in anchors], [anchors[i] for i in idx[best_m:] if i in anchors])
        if pulls[0] or pulls[1]:
            flipped = _bisect(poly, share, angle + 180.0, grid_size=grid_size)
            if _pull(flipped, pulls) < _pull((left, right), pulls):
                left, right = flipped
        stack.append((right, idx[best_m:]))
        stack.append((left, idx[:best_m]))
    return out


def _pull(pieces, pulls) -> float:
    return sum(piece.centroid.distance(shapely.Point(p)) for piece, points in zip(pieces, pulls, strict=True)
               for p in points)


def _bisect(poly, share: float, angle: float, *, grid_size: float | None):
    candidates = []
    for delta in (0.0, 25.0, -25.0, 50.0, -50.0, 90.0):
        left, right = _cut(poly, share, angle + delta, grid_size=grid_size)
        fragments = _fragment_area(left) + _fragment_area(right)
        if fragments == 0 and not left.is_empty and not right.is_empty:
            return left, right
        candidates.append((fragments, left, right))
    _, left, right = min(candidates, key=lambda c: c[0])
    return _absorb_fragments(left, right, grid_size=grid_size)


def _cut(poly, share: float, normal_deg: float, *, grid_size: float | None):
    """Split `poly` by a line whose normal points at `normal_deg` (metric frame) so that the side behind
    the line holds `share` of the area."""
    cos_lat = math.cos(math.radians(poly.centroid.y))
    # a metric normal (cos a, sin a) is (cos a · cos φ, sin a) in degrees
    a = math.radians(normal_deg)
    angle = math.degrees(math.atan2(math.sin(a), math.cos(a) * cos_lat))
    origin = poly.centroid
    turned = affinity.rotate(poly, -angle, origin=origin)
    minx, miny, maxx, maxy = turned.bounds
    target = share * turned.area
    lo, hi = minx, maxx
    for _ in range(36):  # 2^-36 of the width: far below a centimetre
        mid = (lo + hi) / 2
        if shapely.clip_by_rect(turned, minx - 1, miny - 1, mid, maxy + 1).area < target:
            lo = mid
        else:
            hi = mid
    pad = (maxx - minx) + (maxy - miny) + 1.0
    half = affinity.rotate(box(minx - pad, miny - pad, (lo + hi) / 2, maxy + pad), angle, origin=origin)
    left = _polygonal(shapely.intersection(poly, half, grid_size=grid_size))
    right = _polygonal(shapely.difference(poly, half, grid_size=grid_size))
    return left, right


def _long_axis_deg(poly) -> float:
    """Direction (degrees, metric frame) of the long side of the minimum rotated rectangle."""
    cos_lat = math.cos(math.radians(poly.centroid.y))
    rect = poly.minimum_rotated_rectangle
    coords = list(rect.exterior.coords) if isinstance(rect, Polygon) else [(0, 0), (1, 0), (1, 1)]
    (x0, y0), (x1, y1), (x2, y2) = coords[:3]
    e1 = ((x1 - x0) * cos_lat, y1 - y0)
    e2 = ((x2 - x1) * cos_lat, y2 - y1)
    dx, dy = e1 if math.hypot(*e1) >= math.hypot(*e2) else e2
    return math.degrees(math.atan2(dy, dx))


def _polygonal(geom):
    """Only the polygons of an overlay result (dropping collapsed lines and points)."""
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty and g.area > 0]
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _fragment_area(geom) -> float:
    if not isinstance(geom, MultiPolygon):
        return 0.0
    areas = sorted(g.area for g in geom.geoms)
    return sum(areas[:-1])


def _absorb_fragments(left, right, *, grid_size: float | None):
    """Give every fragment but the largest of each side to the other side (it touches it along the cut)."""
    def split(geom):
        if not isinstance(geom, MultiPolygon):
            return geom, []
        parts = sorted(geom.geoms, key=lambda g: g.area, reverse=True)
        return parts[0], parts[1:]

    left_main, left_rest = split(left)
    right_main, right_rest = split(right)
    new_left = _polygonal(shapely.union_all([left_main, *right_rest], grid_size=grid_size))
    new_right = _polygonal(shapely.union_all([right_main, *left_rest], grid_size=grid_size))
    return new_left, new_right


def _single(geom):
    if isinstance(geom, Polygon):
        return geom
    parts = sorted(shapely.get_parts(geom), key=lambda g: g.area, reverse=True)
    return parts[0]


def apportion(total: int, weights: Sequence[float], *, minimum: int = 0) -> list[int]:
    """Integers summing to `total`, proportional to `weights` (largest remainder), each at least
    `minimum` when the total allows it."""
    n = len(weights)
    if n == 0:
        return []
    floor = minimum if total >= minimum * n else 0
    rest = total - floor * n
    wsum = sum(weights) or 1.0
    raw = [rest * w / wsum for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(n), key=lambda i: (raw[i] - counts[i], -i), reverse=True)
    for i in order[: rest - sum(counts)]:
        counts[i] += 1
    return [c + floor for c in counts]


# =========================================================================== synthetic people
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
            "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
            "施倪茅")
MALE_CHARS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁健建国志海峰文俊浩宇晨林兵龙东亮成春新永德忠庆立宏荣祥福生金锋凯彬旭洋博昊"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀玲桂英红梅兰琳雪婷慧颖洁倩燕萍琴云莉凤玉珍丹娇月莹晶欣悦璐佳怡"
# 154 was not allocated to any carrier when this was written: synthetic numbers reach no real subscriber
SYNTHETIC_MOBILE_PREFIX = "154"


class PeopleMaker:
    """Deterministic synthetic names and work phones."""

    def __init__(self, seed: str, *, surname_bias: dict[str, float] | None = None) -> None:
        self.rng = random.Random(f"people:{seed}")
        bias = surname_bias or {}
        # frequencies fall roughly as a Zipf law over the common-surname list
        self.surnames = list(SURNAMES)
        self.weights = [bias.get(s, 1.0) / (rank + 6) for rank, s in enumerate(self.surnames)]
        self.phones: set[str] = set()

    def name(self) -> str:
        surname = self.rng.choices(self.surnames, weights=self.weights)[0]
        pool = MALE_CHARS if self.rng.random() < 0.5 else FEMALE_CHARS
        length = 1 if self.rng.random() < 0.25 else 2
        return surname + "".join(self.rng.choice(pool) for _ in range(length))

    def phone(self) -> str:
        while True:
            number = SYNTHETIC_MOBILE_PREFIX + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number


DEMO_CHARS = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"


def demo_password_new() -> str:
    """A fresh random demo password: three groups of four unambiguous characters (~69 bits) holding a lower
    case letter, an upper case letter and a digit, so it meets every password preset (MLPS: 3 of 4 classes)."""
    while True:
        chars = [secrets.choice(DEMO_CHARS) for _ in range(12)]
        if any(c.islower() for c in chars) and any(c.isupper() for c in chars) and any(c.isdigit() for c in chars):
            return "-".join("".join(chars[i:i + 4]) for i in range(0, 12, 4))


def _demo_file() -> Path:
    return Path(settings.DEMO_LOGINS_FILE)


def demo_passwords_read() -> dict[str, str]:
    """The clear demo passwords kept for printing ({username: password}); {} when there are none."""
    try:
        data = json.loads(_demo_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none kept yet, or an unreadable file: nothing to print
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _demo_passwords_write(passwords: dict[str, str]) -> None:
    """Replace the kept passwords atomically (a private temporary file renamed over the old one)."""
    path = _demo_file()
    if not passwords:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(passwords, out, ensure_ascii=False, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def demo_passwords_keep(new: dict[str, str]) -> None:
    """Keep the clear passwords of newly created demo logins for `demo_logins` to print."""
    _demo_passwords_write({**demo_passwords_read(), **new})


def demo_passwords_forget(usernames: Iterable[str]) -> None:
    """Drop kept passwords that no longer open their login (changed, deleted or deactivated)."""
    gone = set(usernames)
    kept = demo_passwords_read()
    if gone & set(kept):
        _demo_passwords_write({k: v for k, v in kept.items() if k not in gone})




# =========================================================================== plans
@dataclass
class Cell:
    """What to create in a parent: a share of its area (`weight`) and the node's own fields."""

    weight: float = 1.0
    node_type: str | None = None
    management_class: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # for the profile's own use, not stored


@dataclass(eq=False)
class Plan:
    """A cell of the territory before it is created: level, name / code (administrative divisions),
    polygon, children. Polygons are planned in floating point and made final by `plan_finalize`."""

    level: str
    poly: Any
    cell: Cell = field(default_factory=Cell)
    name: str = ""
    code: str = ""
    row: DivisionRow | None = None
    children: list[Plan] = field(default_factory=list)
    node: Node | None = None

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, level: str) -> list[Plan]:
        return [p for p in self.walk() if p.level == level]

    def by_code(self) -> dict[str, Plan]:
        return {p.code: p for p in self.walk() if p.code}

    def divide(self, level: str, cells: Sequence[Cell], *, rng: random.Random,
               anchors: dict[int, tuple[float, float]] | None = None) -> list[Plan]:
        """Cut this cell into `cells` (areas following their weights); returns the new children."""
        polys = partition(self.poly, [c.weight for c in cells], rng=rng, grid_size=None, anchors=anchors)
        kids = [Plan(level=level, poly=poly, cell=cell) for cell, poly in zip(cells, polys, strict=True)]
        self.children.extend(kids)
        return kids


def plan_finalize(root: Plan) -> None:
    """Make the planned polygons final, on a grid ten times coarser than the stored one, at every level.

    The boundaries of all leaf cells are noded and snap-rounded together, polygonised into faces, and
    each leaf becomes the union of its faces, each parent the union of its children. So neighbours share
    their boundary vertex for vertex, children tile their parent exactly, and rounding to the stored
    precision cannot open gaps or overlaps (it would if each polygon were rounded on its own: a vertex
    where one cut meets another moves off the edge of the neighbour that lacks it)."""
    leaves = [p for p in root.walk() if not p.children]
    lines = shapely.union_all([shapely.boundary(leaf.poly) for leaf in leaves], grid_size=PLAN_GRID_SIZE)
    faces = list(shapely.get_parts(shapely.polygonize(list(shapely.get_parts(lines)))))
    tree = shapely.STRtree([leaf.poly for leaf in leaves])
    points = [face.representative_point() for face in faces]
    owner: dict[int, int] = {}
    face_idx, leaf_idx = tree.query(points, predicate="intersects")
    for f, leaf in zip(face_idx.tolist(), leaf_idx.tolist(), strict=True):
        owner.setdefault(f, leaf)
    for f in range(len(faces)):
        if f not in owner:
            owner[f] = int(tree.nearest(points[f]))
    parts: dict[int, list] = defaultdict(list)
    for f, leaf in owner.items():
        parts[leaf].append(faces[f])

    def merge(polys):
        # the faces share their edges exactly: a coverage union only drops the shared edges, so the
        # result keeps the grid vertices as they are (a snapping union could shave sub-grid slivers)
        return _polygonal(shapely.coverage_union_all(polys))

    for i, leaf in enumerate(leaves):
        if not parts.get(i):
            raise ValidationError({"geometry": f"planned cell {leaf.name or leaf.level} is smaller than the "
                                               "stored precision"})
        leaf.poly = merge(parts[i])

    def settle(plan: Plan):
        if plan.children:
            for child in plan.children:
                settle(child)
            plan.poly = merge([child.poly for child in plan.children])

    settle(root)


@dataclass
class LoadReport:
    profile: Profile
    scheme: LevelScheme
    seconds: float
    counts_by_level: list[tuple[Level, int, int]]  # level, current, retired
    people: int
    assignments: int
    by_role: list[tuple[Role, int, int]]  # role, assignments, people
    logins: list[str]
    base_data: Any = None  # the seed.demo_people.DemoReport when synthetic base data were loaded
    base_data_skipped: int = 0  # else the residents they would have held (0: not applicable)
    loop: LoopReport | None = None  # the loop configuration written with it

    def lines(self) -> list[str]:
        out = [f"{self.profile.key}: {self.profile.name_zh} ({self.profile.name_en}), {self.seconds:.1f} s"]
        for level, current, retired in self.counts_by_level:
            extra = f"  (+{retired} retired, kept as history)" if retired else ""
            out.append(f"  {level.key:<12} {current:>7}  {level.name_zh}{extra}")
        out.append(f"  people in charge {self.people}, current assignments {self.assignments}")
        out.append(f"    {'role':<28} {'cells':>7} {'people':>7}")
        for role, n, people in self.by_role:
            out.append(f"    {role.key:<28} {n:>7} {people:>7}  {role.name_zh}")
        out.append(f"  demo logins: {', '.join(self.logins)}  (passwords: manage.py demo_logins)")
        if self.loop is not None:
            out += self.loop.lines()
        if self.base_data is not None:
            out += self.base_data.lines()
        elif self.base_data_skipped:
            out.append(f"  base data not loaded (about {self.base_data_skipped:,} synthetic residents): add them with "
                       f"`manage.py load_profile {self.profile.key} --if-empty --people`")
        return out


class Build:
    """The state of one profile load: scheme, lookups, random sources, pending people and assignments."""

    def __init__(self, profile: Profile, scheme: LevelScheme, *, scale: float, progress: TextIO | None,
                 actor=None) -> None:
        self.profile = profile
        self.scheme = scheme
        self.scale = scale
        self.progress = progress
        self.actor = actor
        self.rng = random.Random(f"geometry:{profile.key}")
        self.people_maker = PeopleMaker(profile.key, surname_bias=profile.surname_bias)
        self.levels = {lv.key: lv for lv in scheme.levels.all()}
        self.terms = {(t.vocabulary, t.key): t for t in scheme.terms.all()}
        self.roles = {r.key: r for r in Role.objects.filter(scheme=scheme).prefetch_related("levels")}
        self.role_levels = {key: {lv.pk for lv in r.levels.all()} for key, r in self.roles.items()}
        self._people: list[Person] = []
        self._assignments: list[tuple[Person, Node, Role, dt.date, str, bool]] = []
        self._open: set[tuple[int, int, int]] = set()
        self._logins: list[tuple[str, Person | None]] = []
        self.started = time.monotonic()

    # ------------------------------------------------------------------ sizes and progress
    def scaled(self, n: int, *, minimum: int = 1) -> int:
        return max(minimum, round(n * self.scale))

    def say(self, message: str) -> None:
        if self.progress is not None:
            print(f"[{self.profile.key} {time.monotonic() - self.started:5.1f}s] {message}", file=self.progress,
                  flush=True)

    def bar(self, total: int, desc: str):
        return tqdm(total=total, desc=f"[{self.profile.key}] {desc}", file=self.progress or sys.stderr,
                    disable=self.progress is None, leave=False, mininterval=0.5)

    def term(self, vocabulary: str, key: str | None) -> Term | None:
        return self.terms[(vocabulary, key)] if key else None

    # ------------------------------------------------------------------ planning
    def plan_admin(self, county: str, *, outline_polygon: Polygon, area_km2: dict[str, float] | None = None,
                   weight: Callable[[DivisionRow], float] | None = None,
                   near: dict[str, tuple[float, float]] | None = None) -> Plan:
        """The county `county` (6 digits) with its towns and villages from the shipped divisions, planned
        on synthetic polygons: the outline for the county, each level cut from its parent with areas
        following `weight` (villages) and their sums (towns); `area_km2` pins the area of given codes and
        `near` pulls given codes towards their real place (lon, lat)."""
        rows = county_rows(county)
        if not rows or rows[0].code[:6] != county:
            raise ValidationError({"code": f"county {county} is not in the shipped division data"})
        weight = weight or village_weight
        level_of_rank = {lv.admin_rank: lv.key for lv in self.levels.values() if lv.admin_rank}
        children: dict[str, list[DivisionRow]] = defaultdict(list)
        for row in rows[1:]:
            children[row.parent_code].append(row)
        noise = random.Random(f"weights:{self.profile.key}")
        village_w = {r.code: weight(r) * math.exp(noise.gauss(0, 0.35)) for r in rows if r.rank == 5}
        town_w = {r.code: sum(village_w[c.code] for c in children[r.code]) or 1.0 for r in rows if r.rank == 4}
        pinned = area_km2 or {}
        near = near or {}
        top = rows[0]
        root = Plan(level=level_of_rank[3], poly=outline_polygon, name=top.name, code=top.code, row=top)
        queue = [root]
        while queue:
            plan = queue.pop(0)
            kids = children.get(plan.code, [])
            if not kids:
                continue
            weights = _pinned_weights(
                parent_area_km2=geo.area_m2(plan.poly) / 1e6,
                weights=[village_w.get(k.code) or town_w.get(k.code, 1.0) for k in kids],
                pinned=[pinned.get(k.code) for k in kids],
            )
            anchors = {i: near[k.code] for i, k in enumerate(kids) if k.code in near}
            polys = partition(plan.poly, weights, rng=self.rng, grid_size=None, anchors=anchors)
            for kid, poly in zip(kids, polys, strict=True):
                child = Plan(level=level_of_rank[kid.rank], poly=poly, name=kid.name, code=kid.code, row=kid)
                plan.children.append(child)
                queue.append(child)
        return root

    # ------------------------------------------------------------------ nodes
    def insert(self, items: Sequence[tuple[Plan, str | None]], *, valid_from: dt.date, check_containment: bool = True,
               bar=None) -> None:
        """Create planned cells, given with their parent's code (parents first), through
        `bulk.nodes_bulk_upsert`: every check of the services, a fixed number of queries per chunk."""
        if not items:
            return
        rows = [NodeRow(level=self.levels[plan.level], code=plan.code, name=plan.name, parent_code=parent_code,
                        geometry=geo.to_geojson(plan.poly) if plan.poly is not None else None,
                        attributes=plan.cell.attributes, node_type=plan.cell.node_type,
                        management_class=plan.cell.management_class) for plan, parent_code in items]
        nodes_bulk_upsert(scheme=self.scheme, rows=rows, actor=self.actor, valid_from=valid_from,
                          check_containment=check_containment, progress=bar.update if bar is not None else None,
                          reason=f"profile {self.profile.key}: synthetic polygons")
        levels = {self.levels[plan.level].pk for plan, _parent in items}
        by_code = {n.code: n for n in Node.objects.filter(scheme=self.scheme, level__in=levels).exclude(code="")
                   .select_related("level")}
        for plan, _parent in items:
            plan.node = by_code[plan.code]

    def in_reading_order(self, plans: Sequence[Plan]) -> list[Plan]:
        centres = []
        for plan in plans:
            point = plan.poly.centroid if plan.poly.contains(plan.poly.centroid) else plan.poly.representative_point()
            centres.append((point.x, point.y))
        return [plans[i] for i in geo.reading_order(centres)]

    def create(self, root: Plan, *, valid_from: dict[str, dt.date], parent_code: str | None = None,
               names: dict[str, Callable[[int, Plan], str]] | None = None,
               stop: Callable[[Plan], bool] | None = None, prepare: Callable[[Plan], None] | None = None,
               outside_parent: Callable[[Plan], bool] | None = None, bar=None) -> None:
        """Create `root` (unless it exists) and its subtree. Administrative divisions keep their statistical
        code and name; grid-type children get sequence codes in reading order (after any code ever issued
        under an existing parent) and the name `names[level](seq, plan)`; `prepare(plan)` may then complete
        the plan (attributes naming it) before it is written. Children for which `stop(child)` is true are
        left for the profile; those for which `outside_parent(child)` is true lie outside their parent on
        purpose (an enclave administered by a neighbour) and skip the containment check."""
        names = names or {}
        batches: dict[tuple[int, dt.date, bool], list[tuple[Plan, str | None]]] = defaultdict(list)

        def add(plan: Plan, parent: str | None) -> None:
            if prepare is not None:
                prepare(plan)
            check = not (outside_parent and outside_parent(plan))
            batches[(self.levels[plan.level].depth, valid_from[plan.level], check)].append((plan, parent))

        if root.node is None:
            add(root, parent_code)
        queue = [root]
        while queue:
            plan = queue.pop(0)
            kids = [k for k in plan.children if not (stop and stop(k))]
            by_level: dict[str, list[Plan]] = defaultdict(list)
            for kid in kids:
                by_level[kid.level].append(kid)
            for level_key, group in by_level.items():
                level = self.levels[level_key]
                if not level.code_digits:
                    continue
                group = self.in_reading_order(group)
                for seq, (kid, code) in enumerate(zip(group, self._codes(plan, level, len(group)), strict=True),
                                                  start=1):
                    kid.code = code
                    kid.name = names[level_key](seq, kid) if level_key in names else f"{level.name_zh}{seq}"
            for kid in kids:
                add(kid, plan.code)
                queue.append(kid)
        for (_depth, since, check), items in sorted(batches.items(), key=lambda kv: kv[0]):
            self.insert(items, valid_from=since, check_containment=check, bar=bar)

    def _codes(self, parent: Plan, level: Level, count: int) -> list[str]:
        if parent.node is not None:
            return services.code_next(parent=parent.node, level=level, count=count)
        # a parent created in this load has no code issued under it yet
        if count >= 10 ** level.code_digits:
            raise ValidationError({"code": f"{count} {level.name_zh} do not fit in {level.code_digits} digits "
                                           f"under {parent.code}"})
        return [f"{parent.code}{seq:0{level.code_digits}d}" for seq in range(1, count + 1)]

    # ------------------------------------------------------------------ people
    def person(self, *, organisation: str = "", note: str = "", name: str | None = None) -> Person:
        """A synthetic person in charge (saved with the others by `flush`)."""
        person = Person(name=name or self.people_maker.name(),
                        phone=account_services.phone_clean(self.people_maker.phone()),
                        organisation=organisation[:200], note=note)
        self._people.append(person)
        return person

    def assign(self, person: Person, node: Node, role: str, *, start: dt.date | None = None, duties: str = "",
               is_public: bool = True) -> None:
        """Queue an assignment, checked by the rules of `accounts.services.assignment_create`: the role
        is of the node's scheme and allowed at its level, the node is in force, the start is not before
        the node, and the person does not already hold the role in the node."""
        r = self.roles[role]
        start = start or node.valid_from
        if r.scheme_id != node.scheme_id:
            raise ValidationError({"role": f"role {r.key} belongs to another scheme than {node}"})
        allowed = self.role_levels[role]
        if allowed and node.level_id not in allowed:
            raise ValidationError({"role": f"a {r.name_zh} cannot be assigned to a {node.level.name_zh}"})
        if not node.is_active:
            raise ValidationError({"node": f"{node} was retired on {node.valid_to}"})
        if start < node.valid_from:
            raise ValidationError({"start_date": f"{node} only exists from {node.valid_from}"})
        key = (id(person), node.pk, r.pk)
        if key in self._open:
            raise ValidationError({"role": f"{person.name} already holds {r.name_zh} in {node.name}"})
        self._open.add(key)
        self._assignments.append((person, node, r, start, duties or r.duties, is_public))

    def flush(self) -> None:
        """Save the queued people and assignments in bulk, with one audit entry for each batch."""
        if self._people:
            Person.objects.bulk_create(self._people, batch_size=2000)
            audit_record(actor=self.actor, action="accounts.person_bulk_create", target=self.scheme,
                         summary=f"profile {self.profile.key}: {len(self._people)} people in charge")
        if self._assignments:
            creator = self.actor if getattr(self.actor, "is_authenticated", False) else None
            rows = [Assignment(person_id=p.pk, node=n, role=r, start_date=s, duties=d, is_public=pub,
                               created_by=creator) for p, n, r, s, d, pub in self._assignments]
            Assignment.objects.bulk_create(rows, batch_size=2000)
            audit_record(actor=self.actor, action="accounts.assignment_bulk_create", target=self.scheme,
                         summary=f"profile {self.profile.key}: {len(rows)} assignments")
        self._people, self._assignments = [], []

    def login(self, username: str, person: Person | None) -> None:
        """Give `person` (already queued or saved) the profile's demo login `username`."""
        if username not in {lg.username for lg in self.profile.logins}:
            raise ValueError(f"{username} is not a demo login of profile {self.profile.key}")
        self._logins.append((username, person))

    def create_logins(self) -> list[str]:
        specs = {lg.username: lg for lg in self.profile.logins}
        created = []
        passwords = {}
        for username, person in self._logins:
            spec = specs[username]
            password = demo_password_new()
            user_model = get_user_model()
            validate_password(password, user_model(username=username))
            user = account_services.staff_user_create(username=username, password=password, person=person,
                                                      sees_everything=spec.sees_everything, scheme=self.scheme,
                                                      actor=self.actor)
            account_services.user_grants_update(user=user, actor=self.actor, user_permissions=permissions(spec.perms))
            created.append(username)
            passwords[username] = password
        demo_passwords_keep(passwords)
        return created


def _pinned_weights(*, parent_area_km2: float, weights: Sequence[float], pinned: Sequence[float | None]) -> list[float]:
    """Weights where pinned children get exactly their area's share and the others share the rest."""
    pinned_sum = sum(p for p in pinned if p)
    if not pinned_sum:
        return list(weights)
    if pinned_sum >= parent_area_km2 * 0.95:
        raise ValidationError({"area_km2": f"pinned areas ({pinned_sum:.1f} km²) do not fit in the parent "
                                           f"({parent_area_km2:.1f} km²)"})
    free = sum(w for w, p in zip(weights, pinned, strict=True) if not p)
    rest = 1 - pinned_sum / parent_area_km2
    return [p / parent_area_km2 if p else w / free * rest for w, p in zip(weights, pinned, strict=True)]


def village_weight(row: DivisionRow) -> float:
    """Relative land area of a village-level division: urban residents' committees are small, farms and
    other state units smaller still."""
    name = row.name
    if any(word in name for word in ("居委会", "社区", "居民委员会")):
        return 0.3
    if any(word in name for word in ("农场", "渔场", "苗圃", "管理所", "种羊场", "良种场", "农科所")):
        return 0.4
    return 1.0




def permissions(names: Iterable[str]) -> list[Permission]:
    wanted = [n.split(".", 1) for n in names]
    found = list(Permission.objects.filter(content_type__app_label__in={a for a, _ in wanted},
                                           codename__in={c for _, c in wanted}).select_related("content_type"))
    have = {f"{p.content_type.app_label}.{p.codename}" for p in found}
    missing = sorted(set(names) - have)
    if missing:
        raise ValidationError({"perms": f"unknown permissions: {', '.join(missing)}"})
    return [p for p in found if f"{p.content_type.app_label}.{p.codename}" in set(names)]


# =========================================================================== demo logins
@dataclass
class DemoLoginState:
    spec: DemoLogin
    user: Any  # the User, or None when it was deleted
    password: str | None  # None when the user changed it since loading (or it was never kept here)
    scopes: list[tuple[Role, Node]]  # roles granting scope, with their cells


def profile_demo_logins(profile: Profile) -> list[DemoLoginState]:
    """The profile's demo logins as they are now; a password is only given if it still opens the login."""
    usernames = [lg.username for lg in profile.logins]
    users = {u.username: u for u in get_user_model().objects.filter(username__in=usernames)}
    kept = demo_passwords_read()
    states = []
    stale = []
    for spec in profile.logins:
        user = users.get(spec.username)
        password = kept.get(spec.username)
        if password is not None and (user is None or not user.is_active or not user.check_password(password)):
            stale.append(spec.username)
            password = None
        scopes = []
        if user is not None:
            current = (Assignment.objects.current().filter(person__user=user, role__grants_scope=True)
                       .select_related("role", "node").order_by("role__order", "node__code"))
            scopes = [(a.role, a.node) for a in current]
        states.append(DemoLoginState(spec=spec, user=user, password=password, scopes=scopes))
    demo_passwords_forget(stale)
    return states


# =========================================================================== load / unload
def profile_scheme(profile: Profile) -> LevelScheme | None:
    return LevelScheme.objects.filter(key=profile.key).first()


@transaction.atomic
def profile_load(profile: Profile, *, scale: float = 1.0, progress: TextIO | None = None, actor=None,
                 people: bool | None = False, people_fill: float = 1.0) -> LoadReport:
    """Create the profile's scheme, vocabularies, roles, territory, people, assignments, demo logins and
    loop configuration (`loop.profile_loop_apply`) in one transaction. Refused (ValidationError) when the scheme or a demo username already exists.

    `people`: also generate the synthetic base data (households, residents, houses, units ...: see
    `seed.demo_people`) for the loaded cells, thinned by `people_fill`; None = only when they are small
    (at most PEOPLE_AUTO_LIMIT residents, as Pinggu's 208 households)."""
    if not 0 < scale <= 1:
        raise ValidationError({"scale": f"scale must be in (0, 1], got {scale}"})
    started = time.monotonic()
    if profile_scheme(profile) is not None:
        raise ValidationError({"key": f"the level scheme {profile.key!r} already exists"})
    taken = list(get_user_model().objects.filter(username__in=[lg.username for lg in profile.logins])
                 .values_list("username", flat=True))
    if taken:
        raise ValidationError({"username": f"demo usernames already taken: {', '.join(sorted(taken))}"})
    scheme = services.scheme_create(key=profile.key, name_zh=profile.name_zh, name_en=profile.name_en,
                                    levels=[dict(spec) for spec in profile.levels],
                                    terms={k: [dict(t) for t in v] for k, v in profile.terms.items()},
                                    description=profile.description)
    for order, spec in enumerate(profile.roles):
        account_services.role_create(scheme=scheme, key=spec.key, name_zh=spec.name_zh, name_en=spec.name_en,
                                     category=spec.category, levels=spec.levels, grants_scope=spec.grants_scope,
                                     duties=spec.duties, order=order,
                                     reveals_personal_data=spec.reveals_personal_data)
    build = Build(profile, scheme, scale=scale, progress=progress, actor=actor)
    profile.build(build)
    build.say("saving people and assignments")
    build.flush()
    build.say("demo logins")
    logins = build.create_logins()
    build.say("loop configuration: departments, catalogue, duty lists, routing")
    loop = profile_loop_apply(profile, actor=actor)
    services.territory_version_bump()
    base_data, skipped = None, 0
    if people is not False:
        estimate = demo_estimate(scheme, fill=people_fill)
        if people or estimate <= PEOPLE_AUTO_LIMIT:
            build.say(f"synthetic base data: about {estimate:,} residents")
            base_data = profile_people_load(profile, fill=people_fill, progress=progress, actor=actor, say=build.say)
        else:
            skipped = estimate
    audit_record(actor=actor, action="territory.profile_load", target=scheme,
                 summary=f"profile {profile.key} at scale {scale}" + (", with base data" if base_data else ""))
    report = profile_report(profile, seconds=time.monotonic() - started, logins=logins)
    report.base_data, report.base_data_skipped = base_data, skipped
    report.loop = loop
    return report


def profile_people_load(profile: Profile, *, fill: float = 1.0, progress: TextIO | None = None, actor=None,
                        say: Callable[[str], None] | None = None):
    """Generate and upsert the synthetic base data of a loaded profile (`seed.demo_people`): idempotent, so a
    second call finds every row unchanged. Returns the `DemoReport`; progress (counts only) goes to `say`,
    else to `progress`."""
    scheme = profile_scheme(profile)
    if scheme is None:
        raise ValidationError({"key": f"{profile.key} is not loaded"})
    started = time.monotonic()

    def tell(message: str) -> None:
        if progress is not None:
            print(f"[{profile.key} {time.monotonic() - started:5.1f}s] {message}", file=progress, flush=True)

    say = say or tell

    return demo_people_load(scheme=scheme, surname_bias=profile.surname_bias, fill=fill, actor=actor, say=say)


def profile_report(profile: Profile, *, seconds: float = 0.0, logins: list[str] | None = None) -> LoadReport:
    scheme = LevelScheme.objects.get(key=profile.key)
    current = Counter(Node.objects.filter(scheme=scheme, valid_to__isnull=True).values_list("level", flat=True))
    retired = Counter(Node.objects.filter(scheme=scheme, valid_to__isnull=False).values_list("level", flat=True))
    assignments = Assignment.objects.filter(node__scheme=scheme, end_date__isnull=True)
    by_role = Counter(assignments.values_list("role", flat=True))
    people_by_role = Counter(role for role, _person in set(assignments.values_list("role", "person")))
    roles = list(Role.objects.filter(scheme=scheme))
    return LoadReport(
        profile=profile, scheme=scheme, seconds=seconds,
        counts_by_level=[(lv, current.get(lv.pk, 0), retired.get(lv.pk, 0)) for lv in scheme.levels.all()],
        people=assignments.values("person").distinct().count(), assignments=assignments.count(),
        by_role=[(r, by_role.get(r.pk, 0), people_by_role.get(r.pk, 0)) for r in roles],
        logins=logins if logins is not None else [lg.username for lg in profile.logins],
    )


@transaction.atomic
def profile_unload(profile: Profile, *, actor=None) -> int:
    """Delete a loaded profile: its scheme, every node and its history, its roles, assignments, the people
    who hold nothing elsewhere, its synthetic base data, its loop configuration (departments, duty lists with
    their entries and requests, routing rules, case policy) and its demo logins. Refused when other records
    (cases, households not written by the demo loader ...) still point at its cells, or a demo login has its
    own audit history. Returns the nodes deleted."""
    scheme = profile_scheme(profile)
    if scheme is None:
        return 0
    nodes = Node.objects.filter(scheme=scheme)
    count = nodes.count()
    assignments = Assignment.objects.filter(node__scheme=scheme)
    # people who hold nothing outside this scheme go with it
    doomed = list(Person.objects.filter(pk__in=assignments.values("person"))
                  .exclude(pk__in=Assignment.objects.exclude(node__scheme=scheme).values("person"))
                  .values_list("pk", flat=True))
    users = get_user_model().objects.filter(username__in=[lg.username for lg in profile.logins])
    records = demo_people_unload(scheme)
    audit_record(actor=actor, action="territory.profile_unload", target=scheme,
                 summary=f"profile {profile.key}: {count} nodes and {records} synthetic base-data records deleted")
    try:
        profile_loop_clear(scheme)
        assignments.delete()
        for start in range(0, len(doomed), 5000):
            Person.objects.filter(pk__in=doomed[start:start + 5000]).delete()
        users.delete()
        IssuedCode.objects.filter(scheme=scheme).delete()
        NodeLineage.objects.filter(predecessor__scheme=scheme).delete()
        NodeVersion.objects.filter(node__scheme=scheme).delete()
        nodes.update(parent=None)
        nodes.delete()
        scheme.delete()
    except ProtectedError as exc:
        kinds = sorted({str(obj._meta.verbose_name_plural) for obj in list(exc.protected_objects)[:50]})
        raise ValidationError({"key": f"cannot unload {profile.key}: other records still refer to it "
                                      f"({', '.join(kinds)})"}) from exc
    services.territory_version_bump()
    return count
