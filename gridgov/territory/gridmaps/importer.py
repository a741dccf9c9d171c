"""`gridmap_import`: rows of a grid map into the territory tree (the policy is in the package docstring).

Each row is attached under its parent: by `parent_code`, else by its own code (grid codes extend the
parent's code), else by containment (the active node of the level above holding most of the polygon).
Rows are written level by level, top first, each in its own savepoint, through `services.node_create`
and `services.node_update`; rows without a code at a sequence-coded level get the next codes under
their parent in reading order (north → south, west → east)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import shapely
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from shapely.geometry import mapping

from gridgov.core.audit import audit_record
from gridgov.territory import geometry as geo
from gridgov.territory import services
from gridgov.territory.gridmaps.checks import check_sibling_groups
from gridgov.territory.gridmaps.read import FeatureRow
from gridgov.territory.gridmaps.report import GridMapReport, ImportMode, RowStatus
from gridgov.territory.gridmaps.rows import PendingRow, aliases_with, reject_duplicate_codes, row_prepare
from gridgov.territory.models import ADMIN_SIGNIFICANT_DIGITS, NATIONAL_CODE_LENGTH, Level, LevelScheme, Node


class _Rollback(Exception):
    """Raised to leave the import transaction without keeping its writes (dry run, all or nothing)."""


def gridmap_import(
    *,
    scheme: LevelScheme,
    rows: Sequence[FeatureRow],
    level: Level | str | None = None,
    property_map: Mapping[str, str | Sequence[str]] | None = None,
    mode: str = ImportMode.PER_ROW,
    dry_run: bool = False,
    actor=None,
    reason: str = "",
    source: str = "",
    effective_date: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GridMapReport:
    """Import grid map rows into `scheme`; returns the report of every row (see the module docstring).

    `level` applies to rows that name none; `property_map` maps a field (name, code, level,
    parent_code, node_type, management_class, attributes) to the property name(s) holding it, tried
    before the defaults. Arguments that make the whole import impossible (unknown mode or level)
    raise ValidationError naming the argument; problems of single rows go into the report. `progress`,
    when given, is called now and then with (rows done, rows in all)."""
    if mode not in {m.value for m in ImportMode}:
        raise ValidationError({"mode": _("mode must be one of %(modes)s") % {"modes": ", ".join(ImportMode)}})
    file_level = services.level_resolve(scheme=scheme, value=level) if level else None
    aliases = aliases_with(property_map)
    report = GridMapReport(scheme=scheme.key, source=source, mode=ImportMode(mode), dry_run=dry_run)
    levels = {lv.pk: lv for lv in scheme.levels.all()}
    work = [row_prepare(row, scheme=scheme, file_level=file_level, aliases=aliases, levels=levels, report=report)
            for row in rows]
    report.rows = [w.result for w in work]
    reject_duplicate_codes(work)
    keep = False
    try:
        with transaction.atomic():
            importer = _Importer(scheme=scheme, report=report, actor=actor, effective_date=effective_date,
                                 reason=reason or _("grid map import %(source)s") % {"source": source or ""},
                                 progress=progress)
            importer.run(work)
            check_sibling_groups(report, scheme=scheme, groups=importer.touched_groups(work),
                                  rows_by_node={w.result.node_id: w.result for w in work
                                                if w.result.node_id and not w.rejected})
            keep = not dry_run and not (mode == ImportMode.ALL_OR_NOTHING and report.has_rejections)
            counts = report.counts
            if keep and (counts[RowStatus.IMPORTED] or counts[RowStatus.UPDATED]):
                audit_record(actor=actor, action="territory.gridmap_import", target=scheme,
                             summary=(reason or source)[:300], changes={"source": source, "counts": counts})
            if not keep:
                raise _Rollback
    except _Rollback:
        pass
    report.committed = keep
    for r in report.rows:
        r.written = keep and r.status in (RowStatus.IMPORTED, RowStatus.UPDATED)
        if not keep and r.status == RowStatus.IMPORTED:
            r.node_id = None  # the row was rolled back
    return report



class _Importer:
    """Writes the prepared rows level by level (top first), each row in its own savepoint."""

    def __init__(self, *, scheme: LevelScheme, report: GridMapReport, actor, reason: str,
                 effective_date: dt.date | None, progress: Callable[[int, int], None] | None = None):
        self.scheme = scheme
        self.report = report
        self.actor = actor
        self.reason = reason
        self.effective_date = effective_date
        self.levels_by_depth = {lv.depth: lv for lv in scheme.levels.all()}
        self.parent_indexes: dict[int, _ParentIndex] = {}
        self.rejected_codes: dict[str, int] = {}
        self.progress = progress
        self._writes = 0

    def _tick(self, work: list[PendingRow], *, force: bool = False) -> None:
        """Report progress every 2 % of the rows (a row is done once it has a status)."""
        if self.progress is None:
            return
        self._writes += 1
        if force or self._writes % max(1, len(work) // 50) == 0:
            self.progress(sum(1 for w in work if w.result.status is not None), len(work))

    def run(self, work: list[PendingRow]) -> None:
        for w in work:
            self._note_rejected(w)
        self._tick(work, force=True)
        depths = sorted({w.level.depth for w in work if not w.rejected and w.level is not None})
        for depth in depths:
            batch = [w for w in work if not w.rejected and w.level is not None and w.level.depth == depth]
            for w in batch:
                self._resolve(w)
                self._note_rejected(w)
            ready = [w for w in batch if not w.rejected]
            # explicit codes first, so codes handed out in reading order never take one the file asks for
            auto = [w for w in ready if w.node is None and not w.result.code and w.level.code_digits]
            auto_ids = {id(w) for w in auto}
            for w in ready:
                if id(w) not in auto_ids:
                    self._write(w)
                    self._tick(work)
            for group in _by_parent(auto):
                for w in _in_reading_order(group):
                    self._write(w)
                    self._tick(work)
        self._tick(work, force=True)

    def _note_rejected(self, w: PendingRow) -> None:
        if w.rejected and w.result.code:
            self.rejected_codes.setdefault(w.result.code, w.result.row)

    def _active(self, code: str) -> Node | None:
        return (Node.objects.current().filter(scheme=self.scheme, code=code)
                .select_related("level", "parent").first())

    def _missing(self, code: str) -> str:
        row = self.rejected_codes.get(code)
        if row is not None:
            return _("%(code)s (row %(row)d) was rejected") % {"code": code, "row": row}
        return _("no active node has code %(code)s in scheme %(scheme)s") % {"code": code, "scheme": self.scheme.key}

    def _resolve(self, w: PendingRow) -> None:
        """Find the existing node (same code) or the parent of a new one. Rejects the row if impossible."""
        res, level = w.result, w.level
        if res.code:
            existing = Node.objects.filter(scheme=self.scheme, code=res.code).select_related("level", "parent").first()
            if existing is not None:
                if not existing.is_active:
                    res.reject("code", _("code %(code)s belongs to %(node)s, retired on %(d)s; codes are never "
                                         "reused") % {"code": res.code, "node": existing.name, "d": existing.valid_to})
                elif existing.level_id != level.pk:
                    res.reject("level", _("%(code)s is a %(old)s in the tree, the file says %(new)s; an import does "
                                          "not change levels") % {"code": res.code, "old": existing.level.name_zh,
                                                                  "new": level.name_zh})
                elif res.parent_code and (existing.parent is None or existing.parent.code != res.parent_code):
                    res.reject("parent_code", _("%(code)s is under %(p)s, the file says %(new)s; an import does not "
                                                "move nodes (use a move)")
                               % {"code": res.code, "p": existing.parent.code if existing.parent else "-",
                                  "new": res.parent_code})
                else:
                    w.node, w.parent = existing, existing.parent
                    res.node_id = existing.pk
                    res.parent_code = existing.parent.code if existing.parent else ""
                return
        parent = None
        if res.parent_code:
            parent = self._active(res.parent_code)
            if parent is None:
                res.reject("parent_code", self._missing(res.parent_code))
                return
        elif res.code and (implied := self._parent_code_from_code(res.code, level)):
            parent = self._active(implied)
            if parent is None:
                res.reject("code", _("code %(code)s extends %(p)s, but %(why)s")
                           % {"code": res.code, "p": implied, "why": self._missing(implied)})
                return
        elif level.depth > 0 and w.geom is not None:
            parent = self._containing(w)
            if parent is None:
                return
        elif level.depth > 0 and not level.admin_rank:
            res.reject("parent_code", _("cannot tell the parent: give %(p)s, a code extending the parent's code, or "
                                        "a polygon inside the parent") % {"p": "parent_code / 上级编码"})
            return
        w.parent = parent
        res.parent_code = parent.code if parent else ""
        if not res.code and res.name:
            self._match_by_name(w)

    def _match_by_name(self, w: PendingRow) -> None:
        """A row without a code is the sibling of the same level and name, if there is one, so that
        importing the same file twice does not create every cell twice."""
        res = w.result
        same = list(Node.objects.current().filter(scheme=self.scheme, level=w.level, parent=w.parent, name=res.name)
                    .select_related("level", "parent").order_by("pk")[:2])
        if len(same) > 1:
            res.reject("code", _("%(n)s already has several %(level)s cells named %(name)s; give the code of the one "
                                 "this row is") % {"n": w.parent.name if w.parent else self.scheme.key,
                                                   "level": w.level.name_zh, "name": res.name})
        elif same:
            w.node = same[0]
            res.code, res.node_id = w.node.code, w.node.pk

    def _parent_code_from_code(self, code: str, level: Level) -> str | None:
        if level.code_digits:
            if code.isdigit() and len(code) > level.code_digits:
                return code[: -level.code_digits]
            return None
        above = self.levels_by_depth.get(level.depth - 1)
        if level.admin_rank and above is not None and above.admin_rank and code.isdigit() \
                and len(code) == NATIONAL_CODE_LENGTH:
            return code[: ADMIN_SIGNIFICANT_DIGITS[above.admin_rank]].ljust(NATIONAL_CODE_LENGTH, "0")
        return None

    def _containing(self, w: PendingRow) -> Node | None:
        above = self.levels_by_depth.get(w.level.depth - 1)
        if above is None:
            return None
        index = self.parent_indexes.get(above.depth)
        if index is None:
            nodes = list(Node.objects.current().filter(scheme=self.scheme, level=above, geometry__isnull=False)
                         .select_related("level", "parent").order_by("pk"))
            index = self.parent_indexes[above.depth] = _ParentIndex(nodes)
        parent = index.best(w.geom)
        if parent is None:
            w.result.reject("parent_code", _("no active %(level)s polygon overlaps this polygon, so its parent is "
                                             "unknown; give parent_code / 上级编码") % {"level": above.name_zh})
        return parent

    def _write(self, w: PendingRow) -> None:
        res = w.result
        if w.geom is not None and w.parent is not None and w.parent.geometry:
            try:
                parent_geom = geo.parse_geometry(w.parent.geometry)
            except geo.GeometryError:
                parent_geom = None
            outside = geo.outside_area_m2(w.geom, parent_geom) if parent_geom is not None else 0.0
            if outside > services.area_tolerance_m2(w.geom):
                self.report.outside_parent.append({
                    "row": res.row, "code": res.code, "name": res.name, "parent_code": w.parent.code,
                    "parent_name": w.parent.name, "area_m2": round(outside, 1),
                })
                res.reject("geometry", _("%(area).0f m² of the polygon lies outside its parent %(code)s %(name)s")
                           % {"area": outside, "code": w.parent.code, "name": w.parent.name})
                self._note_rejected(w)
                return
        try:
            with transaction.atomic():
                if w.node is not None:
                    self._update(w)
                else:
                    self._create(w)
        except ValidationError as exc:
            res.reject_with(exc)
            res.node_id = None if w.node is None else res.node_id
        except IntegrityError as exc:
            res.reject("code", _("conflicts with a row written at the same time: %(error)s") % {"error": exc})
        self._note_rejected(w)

    def _create(self, w: PendingRow) -> None:
        res = w.result
        node = services.node_create(
            level=w.level, parent=w.parent, name=res.name, code=res.code, auto_code=not res.code,
            geometry=mapping(w.geom) if w.geom is not None else None,
            node_type=w.node_type or None, management_class=w.management_class or None,
            attributes=w.attributes, valid_from=self.effective_date, actor=self.actor, reason=self.reason,
        )
        res.status, res.code, res.node_id = RowStatus.IMPORTED, node.code, node.pk

    def _update(self, w: PendingRow) -> None:
        node, res = w.node, w.result
        changes: dict[str, Any] = {}
        if res.name and res.name != node.name:
            changes["name"] = res.name
        if w.geom is not None and not _same_geometry(w.geom, node.geometry):
            changes["geometry"] = mapping(w.geom)
        for field_name, vocabulary in (("node_type", "NODE_TYPE"), ("management_class", "MANAGEMENT_CLASS")):
            value = getattr(w, field_name)
            if value:
                term = services.term_resolve(scheme=self.scheme, vocabulary=vocabulary, value=value, field=field_name)
                if term.pk != getattr(node, f"{field_name}_id"):
                    changes[field_name] = term
        merged = {**node.attributes, **w.attributes}
        if merged != node.attributes:
            changes["attributes"] = merged
        if not res.name:
            res.name = node.name
        if not changes:
            res.status = RowStatus.UNCHANGED
            return
        services.node_update(node, actor=self.actor, reason=self.reason, effective_date=self.effective_date,
                             **changes)
        res.status, res.changed = RowStatus.UPDATED, sorted(changes)

    def touched_groups(self, work: list[PendingRow]) -> set[tuple[int, int]]:
        return {(w.parent.pk, w.level.pk) for w in work if not w.rejected and w.parent is not None}


def _by_parent(items: list[PendingRow]) -> list[list[PendingRow]]:
    groups: dict[int | None, list[PendingRow]] = {}
    for w in items:
        groups.setdefault(w.parent.pk if w.parent else None, []).append(w)
    return list(groups.values())


def _in_reading_order(items: list[PendingRow]) -> list[PendingRow]:
    with_polygon = [w for w in items if w.geom is not None]
    points = []
    for w in with_polygon:
        m = geo.measure(w.geom)
        points.append((m.centroid_lon, m.centroid_lat))
    ordered = [with_polygon[i] for i in geo.reading_order(points)]
    return ordered + [w for w in items if w.geom is None]


def _same_geometry(geom, stored) -> bool:
    if not stored:
        return False
    if geo.to_geojson(geom) == stored:
        return True
    try:
        old = geo.parse_geometry(stored)
    except geo.GeometryError:
        return False
    return bool(shapely.equals_exact(shapely.normalize(geom), shapely.normalize(old),
                                     tolerance=10 ** -geo.COORD_DECIMALS))


class _ParentIndex:
    """Candidate parents of one level in an STRtree; the best holds most of a polygon."""

    def __init__(self, nodes: list[Node]):
        self.nodes, geoms = [], []
        for node in nodes:
            try:
                geoms.append(geo.parse_geometry(node.geometry))
            except geo.GeometryError:
                continue
            self.nodes.append(node)
        self.geoms = geoms
        self.tree = shapely.STRtree(geoms)

    def best(self, geom) -> Node | None:
        best: tuple[float, int] | None = None
        for i in self.tree.query(geom, predicate="intersects"):
            area = geo.overlap_area_m2(geom, self.geoms[i])
            if area > 0 and (best is None or area > best[0]):
                best = (area, int(i))
        return self.nodes[best[1]] if best else None
