"""Create or update many territory nodes at once: the fast path for importers (divisions, grid maps ...).

`nodes_bulk_upsert` keeps the invariants `services.node_create` and `services.node_update` keep, with a
fixed number of queries per chunk of rows instead of several per row:
- codes follow `codes.code_format_error` (format per level, prefix of the parent's code), as
  `services.code_validate` does, are never used before in the scheme, and every code is kept in `IssuedCode`;
- a new node's path is "/<ancestor ids>/<id>/" and it gets an open CREATE `NodeVersion`;
- a changed node (name, boundary, attributes, type, management class) gets its open version closed and
  an UPDATE version appended, and an audit entry, as with `node_update`;
- boundaries are valid and lie inside the parent's (and, on update, still hold the children's);
- the territory version is bumped once, at the end, when a node was created or a boundary changed;
- it all happens in one transaction: a ValidationError leaves nothing written.

Rows are matched on (scheme, code). Parents and levels of existing nodes are never changed here (a move
is `services.node_move`'s job): an existing node under another parent than its row names is left where
it is and counted in `BulkResult.elsewhere`. Retired nodes are left retired.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, NotSupportedError, connection, connections, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.core.audit import audit_record
from gridgov.core.models import AuditEntry
from gridgov.territory import geometry as geo
from gridgov.territory.codes import code_format_error
from gridgov.territory.models import (
    ChangeKind,
    IssuedCode,
    Level,
    LevelScheme,
    Node,
    NodeVersion,
    Term,
    Vocabulary,
)
from gridgov.territory.services import (
    _apply_geometry,
    _parse_geometry_field,
    _user,
    area_tolerance_m2,
    territory_version_bump,
)

CHUNK_SIZE = 5000
# Codes of nodes remembered as possible parents; past this the memory is dropped and parents are read
# again from the database (one query per chunk), so a country-size import stays within a few hundred MB.
PARENT_CACHE_LIMIT = 200_000
SAMPLE_LIMIT = 100
ANALYZE_FIRST = 10_000  # rows created before the first refresh of PostgreSQL's statistics


class NodeRow(NamedTuple):
    """A node to create, or to bring up to date, identified by its code in the scheme.

    `parent_code` None makes a root. `geometry`, `attributes`, `node_type` and `management_class` left
    None are not set on a new node and left as they are on an existing one ("" clears a type or class).
    A tuple rather than a dataclass: an import makes hundreds of thousands of them."""

    level: Level | str  # a Level of the scheme or its key
    code: str
    name: str
    parent_code: str | None = None
    geometry: Any = None  # GeoJSON (dict or text)
    attributes: dict[str, Any] | None = None
    node_type: str | None = None  # term key, Chinese or English name
    management_class: str | None = None


@dataclass
class BulkResult:
    """What `nodes_bulk_upsert` did, counted per level key."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    retired: Counter[str] = field(default_factory=Counter)  # rows naming a retired node: left retired
    elsewhere: Counter[str] = field(default_factory=Counter)  # existing nodes under another parent: not moved
    elsewhere_codes: list[str] = field(default_factory=list)  # the first SAMPLE_LIMIT of them
    territory_version: int | None = None  # after the bump; None when nothing structural changed

    @property
    def rows(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values()) + sum(self.unchanged.values()) + sum(
            self.retired.values())

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


class _Item(NamedTuple):
    index: int
    level: Level
    code: str
    name: str
    parent_code: str | None
    geom: Any  # shapely geometry or None (not given)
    attributes: dict[str, Any] | None
    node_type_id: int | None
    node_type_given: bool
    management_class_id: int | None
    management_class_given: bool


class _Known(NamedTuple):
    """A node that can be a parent: enough to validate a child and compute its path."""

    pk: int
    path: str
    level: Level
    code: str
    active: bool


def _err(index: int, field_name: str, message: str) -> ValidationError:
    return ValidationError({f"rows[{index}].{field_name}": message})


# The two lookups every chunk makes, by a few thousand codes at once, in plain SQL: the ORM's IN lookup
# prepares each value through the field machinery, which costs more than the query itself here.
_NODE_COLUMNS = ("id", "code", "name", "level_id", "parent_id", "path", "valid_to", "node_type_id",
                 "management_class_id")


def _nodes_by_code(scheme: LevelScheme, codes: list[str], *, attributes: bool, geometry: bool) -> dict[str, dict]:
    """The scheme's nodes with these codes, as dicts of _NODE_COLUMNS (and the JSON columns asked for,
    decoded)."""
    if not codes:
        return {}
    qn = connection.ops.quote_name
    table = qn(Node._meta.db_table)
    json_fields = [Node._meta.get_field(name) for name, wanted in (("attributes", attributes),
                                                                    ("geometry", geometry)) if wanted]
    columns = ", ".join([qn(c) for c in _NODE_COLUMNS] + [qn(f.column) for f in json_fields])
    marks = ", ".join(["%s"] * len(codes))
    # NOT code = '' lets SQLite and PostgreSQL use the partial unique index on (scheme, code)
    sql = (f"SELECT {columns} FROM {table} "  # noqa: S608 (names from the model)
           f"WHERE scheme_id = %s AND code IN ({marks}) AND NOT code = ''")
    names = (*_NODE_COLUMNS, *(f.name for f in json_fields))
    with connection.cursor() as cursor:
        cursor.execute(sql, [scheme.pk, *codes])
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for node in found:
        for f in json_fields:
            node[f.name] = f.from_db_value(node[f.name], None, connection)
    return {node["code"]: node for node in found}


def _issued_by_code(scheme: LevelScheme, codes: list[str]) -> dict[str, int]:
    """code → id of the node it was issued to, for the codes ever issued in the scheme."""
    if not codes:
        return {}
    marks = ", ".join(["%s"] * len(codes))
    sql = (f"SELECT code, node_id FROM {connection.ops.quote_name(IssuedCode._meta.db_table)} "  # noqa: S608
           f"WHERE scheme_id = %s AND code IN ({marks})")
    with connection.cursor() as cursor:
        cursor.execute(sql, [scheme.pk, *codes])
        return dict(cursor.fetchall())


GEOMETRY_COLUMNS = ("geometry", "area_m2", "centroid_lon", "centroid_lat", "min_lon", "min_lat", "max_lon", "max_lat")
_NO_GEOMETRY = (None,) * len(GEOMETRY_COLUMNS)


def _measures(geom) -> tuple:
    """The values of GEOMETRY_COLUMNS for a boundary, as `services` stores them."""
    if geom is None:
        return _NO_GEOMETRY
    holder = SimpleNamespace()
    _apply_geometry(holder, geom)
    return tuple(getattr(holder, column) for column in GEOMETRY_COLUMNS)


def _allocate_node_ids(count: int) -> list[int]:
    """Ids for `count` new nodes, taken before they are inserted so that each row carries its path.

    PostgreSQL: from the table's identity sequence, safe beside concurrent writers. SQLite: after the
    largest id ever given (AUTOINCREMENT's sqlite_sequence), safe because this transaction holds
    SQLite's single write lock from its first write on, and the no-op UPDATE makes sure it has one."""
    if not count:
        return []
    table = Node._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [table, count])
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            quoted = connection.ops.quote_name(table)
            # table names from the model, not from input
            cursor.execute(f"UPDATE {quoted} SET id = id WHERE 0")  # noqa: S608
            cursor.execute(f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
                           f"coalesce((SELECT max(id) FROM {quoted}), 0))", [table])
            start = cursor.fetchone()[0] + 1
            return list(range(start, start + count))
    raise NotSupportedError(f"nodes_bulk_upsert supports SQLite and PostgreSQL, not {connection.vendor}")


class _Insert:
    """Many rows of one model in one executemany.

    `bulk_create` compiles every value of every row through the ORM's field machinery, several times the
    cost of the insert itself at a country's scale. Here the values of `columns` are given per row (JSON
    and date values converted by their field), and every other column is the same for all rows: its
    value in `constants`, else the field's default (now for auto_now fields), converted once."""

    PLAIN = (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.ForeignKey)

    def __init__(self, model: type[models.Model], *, columns: tuple[str, ...], constants: dict[str, Any]):
        self.connection = connections[DEFAULT_DB_ALIAS]
        fields = {f.attname: f for f in model._meta.concrete_fields}
        now = timezone.now()
        varying = [fields[name] for name in columns]
        fixed = [f for name, f in fields.items() if name not in columns and (name in constants or not f.primary_key)]
        values = []
        for f in fixed:
            if f.attname in constants:
                value = constants[f.attname]
            elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = now
            else:
                value = f.get_default()
            values.append(f.get_db_prep_save(value, self.connection))
        self.constants = tuple(values)
        # plain values (text, numbers, ids) go as they are; the others through their field, and the empty
        # JSON object most rows have is converted once
        self.convert = [(i, f, f.get_db_prep_save({}, self.connection) if isinstance(f, models.JSONField) else None)
                        for i, f in enumerate(varying) if not isinstance(f, self.PLAIN)]
        names = ", ".join(self.connection.ops.quote_name(f.column) for f in varying + fixed)
        marks = ", ".join(["%s"] * (len(varying) + len(fixed)))
        table = self.connection.ops.quote_name(model._meta.db_table)
        self.sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 (names from the model)
        self.copy_sql = f"COPY {table} ({names}) FROM STDIN"

    def row(self, *values) -> tuple:
        if not self.convert:
            return values + self.constants
        converted = list(values)
        for i, f, empty in self.convert:
            value = converted[i]
            if value is None:
                continue
            converted[i] = empty if empty is not None and value == {} else f.get_db_prep_save(value, self.connection)
        return (*converted, *self.constants)

    def run(self, rows: list[tuple]) -> None:
        if not rows:
            return
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                # COPY is several times faster than executemany over psycopg's client-side binding
                with cursor.cursor.copy(self.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(self.sql, rows)


@transaction.atomic
def nodes_bulk_upsert(
    *,
    scheme: LevelScheme,
    rows: Iterable[NodeRow],
    actor=None,
    reason: str = "",
    valid_from: dt.date | None = None,
    progress: Callable[[int], object] | None = None,
    check_containment: bool = True,
    chunk_size: int = CHUNK_SIZE,
) -> BulkResult:
    """Create the nodes of `rows` that do not exist in `scheme` and update the ones that changed.

    A row's parent is found by `parent_code` among the nodes of the scheme: it must exist already or come
    earlier in `rows`. New nodes and changes are in force from `valid_from` (today when None).
    `progress(n)` is called after every chunk with the number of rows it held (tqdm's `update` fits).
    Raises ValidationError naming the row and field ("rows[12].code") and writes nothing then."""
    upsert = _Upsert(scheme=scheme, actor=actor, reason=reason, on=valid_from or timezone.localdate(),
                     check_containment=check_containment)
    numbered = enumerate(rows)
    while chunk := list(itertools.islice(numbered, chunk_size)):
        upsert.chunk(chunk)
        if progress is not None:
            progress(len(chunk))
    return upsert.finish()


class _Upsert:
    """The state of one `nodes_bulk_upsert` across its chunks."""

    def __init__(self, *, scheme: LevelScheme, actor, reason: str, on: dt.date, check_containment: bool):
        self.scheme = scheme
        self.actor = _user(actor)
        self.reason = reason
        self.on = on
        self.check_containment = check_containment
        self.levels = {lvl.key: lvl for lvl in scheme.levels.all()}
        self.levels_by_id = {lvl.pk: lvl for lvl in self.levels.values()}
        # a term by key, else Chinese name, else English name (any case), as `services.term_resolve`
        self.terms: tuple[dict[tuple[str, str], Term], ...] = ({}, {}, {})
        for term in Term.objects.filter(scheme=scheme):
            for lookup, name in zip(self.terms, (term.key, term.name_zh, term.name_en.lower()), strict=True):
                if name:
                    lookup.setdefault((term.vocabulary, name), term)
        self.known: dict[str, _Known] = {}
        self.touched: set[int] = set()  # ids of the nodes rows have named: a second row naming one is a repeat
        self.geometry_changed = False
        self.result = BulkResult()
        self.created = 0
        self.analyze_at = ANALYZE_FIRST

    # ------------------------------------------------------------------ rows
    def prepare(self, index: int, row: NodeRow) -> _Item:
        if isinstance(row.level, Level):
            if row.level.scheme_id != self.scheme.pk:
                raise _err(index, "level", _("level %(level)s is not in scheme %(scheme)s")
                           % {"level": row.level.key, "scheme": self.scheme.key})
            level = self.levels[row.level.key]
        else:
            level = self.levels.get(row.level)
            if level is None:
                raise _err(index, "level", _("unknown level %(value)r in scheme %(scheme)s; known: %(known)s")
                           % {"value": row.level, "scheme": self.scheme.key, "known": ", ".join(self.levels)})
        code = (row.code or "").strip()
        if not code:
            raise _err(index, "code", _("a code is required: rows are matched to nodes by their code"))
        name = (row.name or "").strip()
        if not name:
            raise _err(index, "name", _("a name is required"))
        if row.attributes is not None and not isinstance(row.attributes, dict):
            raise _err(index, "attributes", _("attributes must be a JSON object"))
        geom = _parse_geometry_field(row.geometry, field=f"rows[{index}].geometry")
        node_type = self.term(index, Vocabulary.NODE_TYPE, row.node_type, "node_type")
        management_class = self.term(index, Vocabulary.MANAGEMENT_CLASS, row.management_class, "management_class")
        parent_code = (row.parent_code or "").strip() or None
        if parent_code == code:
            raise _err(index, "parent_code", _("%(code)s cannot be its own parent") % {"code": code})
        return _Item(index=index, level=level, code=code, name=name[:200], parent_code=parent_code, geom=geom,
                     attributes=row.attributes, node_type_id=node_type.pk if node_type else None,
                     node_type_given=row.node_type is not None,
                     management_class_id=management_class.pk if management_class else None,
                     management_class_given=row.management_class is not None)

    def term(self, index: int, vocabulary: str, value: str | None, field_name: str) -> Term | None:
        if value is None or value == "":
            return None
        by_key, by_zh, by_en = self.terms
        value = str(value)
        term = by_key.get((vocabulary, value)) or by_zh.get((vocabulary, value)) or by_en.get((vocabulary,
                                                                                               value.lower()))
        if term is None:
            known = sorted(key for v, key in by_key if v == vocabulary)
            raise _err(index, field_name, _("unknown %(field)s %(value)r; known: %(known)s")
                       % {"field": field_name, "value": value, "known": ", ".join(known) or "-"})
        return term

    # ------------------------------------------------------------------ one chunk
    def chunk(self, pairs: Iterable[tuple[int, NodeRow]]) -> None:
        items = [self.prepare(index, row) for index, row in pairs]
        first_index: dict[str, int] = {}
        for item in items:
            if item.code in first_index:
                raise _err(item.index, "code", _("code %(code)s repeats row %(n)d") % {
                    "code": item.code, "n": first_index[item.code]})
            first_index[item.code] = item.index
        codes = list(first_index)
        existing = _nodes_by_code(self.scheme, codes, attributes=any(item.attributes is not None for item in items),
                                  geometry=any(item.geom is not None for item in items))
        issued = _issued_by_code(self.scheme, codes)
        fresh: list[_Item] = []
        changed: list[tuple[_Item, int, set[str]]] = []
        missing_issued: list[IssuedCode] = []
        parents = self.parents([item for item in items if item.code in existing])
        for item in items:
            node = existing.get(item.code)
            if node is None:
                if item.code in issued:
                    raise _err(item.index, "code", _("code %(code)s is already used or was used before in scheme "
                                                     "%(scheme)s; codes are never reused")
                               % {"code": item.code, "scheme": self.scheme.key})
                fresh.append(item)
                continue
            if item.code not in issued:  # a node written around the services: issue its code now
                missing_issued.append(IssuedCode(scheme=self.scheme, code=item.code, node_id=node["id"]))
            parent = parents.get(item.parent_code) if item.parent_code else None
            changes = self.compare(item, node, parent_id=parent.pk if parent else None)
            if changes:
                changed.append((item, node["id"], changes))
        if missing_issued:
            IssuedCode.objects.bulk_create(missing_issued)
        if changed:
            self.update(changed)
        pending = {item.code: item for item in fresh}
        for item in fresh:
            parent = pending.get(item.parent_code) if item.parent_code else None
            if parent is not None and parent.level.depth >= item.level.depth:
                raise self.not_deeper(item, parent.level)
        # top-down, so that a parent in the chunk exists before its children
        fresh.sort(key=lambda item: item.level.depth)
        for _depth, group in itertools.groupby(fresh, key=lambda item: item.level.depth):
            self.create(list(group))

    def compare(self, item: _Item, node: dict[str, Any], *, parent_id: int | None) -> set[str]:
        """The fields of an existing node the row changes (empty when none, or when it is retired).
        `parent_id`: the node the row names as parent (None for a root, or when there is none)."""
        if node["id"] in self.touched:
            raise _err(item.index, "code", _("code %(code)s repeats an earlier row") % {"code": item.code})
        self.touched.add(node["id"])
        level = self.levels_by_id[node["level_id"]]
        if level.pk != item.level.pk:
            raise _err(item.index, "level", _("%(code)s is a %(actual)s in scheme %(scheme)s, not a %(level)s")
                       % {"code": item.code, "actual": level.name_zh, "scheme": self.scheme.key,
                          "level": item.level.name_zh})
        active = node["valid_to"] is None
        self.remember(_Known(pk=node["id"], path=node["path"], level=level, code=item.code, active=active))
        if not active:
            self.result.retired[level.key] += 1
            return set()
        if node["parent_id"] != parent_id:
            self.result.elsewhere[level.key] += 1
            if len(self.result.elsewhere_codes) < SAMPLE_LIMIT:
                self.result.elsewhere_codes.append(item.code)
        changes = set()
        if node["name"] != item.name:
            changes.add("name")
        if item.geom is not None and node["geometry"] != geo.to_geojson(item.geom):
            changes.add("geometry")
        if item.attributes is not None and node["attributes"] != item.attributes:
            changes.add("attributes")
        if item.node_type_given and node["node_type_id"] != item.node_type_id:
            changes.add("node_type")
        if item.management_class_given and node["management_class_id"] != item.management_class_id:
            changes.add("management_class")
        if not changes:
            self.result.unchanged[level.key] += 1
        return changes

    # ------------------------------------------------------------------ parents
    def remember(self, known: _Known) -> None:
        if len(self.known) >= PARENT_CACHE_LIMIT:
            self.known.clear()
        self.known[known.code] = known

    def parents(self, items: list[_Item]) -> dict[str, _Known]:
        wanted = {item.parent_code for item in items if item.parent_code}
        found = {code: self.known[code] for code in wanted if code in self.known}
        missing = wanted - found.keys()
        if missing:
            for pk, code, path, level_id, valid_to in (
                    Node.objects.filter(scheme=self.scheme, code__in=missing).exclude(code="").order_by()
                    .values_list("id", "code", "path", "level_id", "valid_to")):
                known = _Known(pk=pk, path=path, level=self.levels_by_id[level_id], code=code, active=valid_to is None)
                self.remember(known)
                found[code] = known
        return found

    def check_parent(self, item: _Item, parent: _Known | None) -> None:
        if item.parent_code and parent is None:
            raise _err(item.index, "parent_code", _("no node has code %(code)s in scheme %(scheme)s; a parent must "
                                                    "exist or come before its children")
                       % {"code": item.parent_code, "scheme": self.scheme.key})
        if parent is None:
            if item.level.depth != 0 and not item.level.admin_rank:
                raise _err(item.index, "parent_code", _("a %(level)s needs a parent") % {"level": item.level.name_zh})
            return
        if not parent.active:
            raise _err(item.index, "parent_code", _("the parent %(p)s is retired") % {"p": parent.code})
        if parent.level.depth >= item.level.depth:
            raise self.not_deeper(item, parent.level)

    @staticmethod
    def not_deeper(item: _Item, parent_level: Level) -> ValidationError:
        return _err(item.index, "level", _("a %(level)s cannot sit under a %(plevel)s: its level must be deeper than "
                                           "its parent's") % {"level": item.level.name_zh,
                                                              "plevel": parent_level.name_zh})

    def check_within(self, items: list[tuple[_Item, int | None]]) -> None:
        """Each (item, parent id) boundary lies inside its parent's (when both have one)."""
        parent_ids = {pid for item, pid in items if pid is not None and item.geom is not None}
        if not self.check_containment or not parent_ids:
            return
        parent_geoms = {pk: geo.parse_geometry(g) for pk, g in Node.objects.filter(pk__in=parent_ids)
                        .exclude(geometry=None).values_list("id", "geometry")}
        for item, pid in items:
            pgeom = parent_geoms.get(pid)
            if item.geom is None or pgeom is None:
                continue
            outside = geo.outside_area_m2(item.geom, pgeom)
            if outside > area_tolerance_m2(item.geom):
                raise _err(item.index, "geometry", _("%(area).0f m² of the polygon lies outside its parent %(code)s")
                           % {"area": outside, "code": item.parent_code})

    # ------------------------------------------------------------------ writes
    def create(self, items: list[_Item]) -> None:
        """Create `items`, all at one depth, whose parents exist by now: one INSERT of many rows into each of
        node, issued code and version, with ids taken beforehand so paths are written with the rows."""
        parents = self.parents(items)
        placed: list[tuple[_Item, _Known | None]] = []
        for item in items:
            parent = parents.get(item.parent_code) if item.parent_code else None
            self.check_parent(item, parent)
            problem = code_format_error(level=item.level, code=item.code,
                                        parent_code=parent.code if parent else None,
                                        parent_level=parent.level if parent else None)
            if problem:
                raise _err(item.index, "code", problem)
            placed.append((item, parent))
        self.check_within([(item, parent.pk if parent else None) for item, parent in placed])
        level = items[0].level
        columns = ("id", "parent_id", "code", "name", "node_type_id", "management_class_id", "attributes",
                   "path", *GEOMETRY_COLUMNS)
        fixed = {"scheme_id": self.scheme.pk, "level_id": level.pk, "valid_from": self.on}
        nodes = _Insert(Node, columns=columns, constants=fixed)
        issued = _Insert(IssuedCode, columns=("code", "node_id"), constants={"scheme_id": self.scheme.pk})
        versions = _Insert(NodeVersion, columns=("node_id", "parent_id", "code", "name", "node_type_id",
                                                 "management_class_id", "attributes", "geometry"),
                           constants={"level_id": level.pk, "valid_from": self.on, "valid_to": None,
                                      "change": ChangeKind.CREATE.value, "reason": self.reason,
                                      "actor_id": self.actor.pk if self.actor else None})
        node_rows, issued_rows, version_rows = [], [], []
        for (item, parent), pk in zip(placed, _allocate_node_ids(len(placed)), strict=True):
            path = f"{parent.path}{pk}/" if parent else f"/{pk}/"
            parent_id = parent.pk if parent else None
            attributes = item.attributes or {}
            measures = _measures(item.geom)
            node_rows.append(nodes.row(pk, parent_id, item.code, item.name, item.node_type_id,
                                       item.management_class_id, attributes, path, *measures))
            issued_rows.append(issued.row(item.code, pk))
            version_rows.append(versions.row(pk, parent_id, item.code, item.name, item.node_type_id,
                                             item.management_class_id, attributes, measures[0]))
            self.remember(_Known(pk=pk, path=path, level=level, code=item.code, active=True))
            self.touched.add(pk)
            if item.geom is not None:
                self.geometry_changed = True
        nodes.run(node_rows)
        issued.run(issued_rows)
        versions.run(version_rows)
        self.result.created[level.key] += len(node_rows)
        self.created += len(node_rows)
        if self.created >= self.analyze_at:
            self.analyze()

    def analyze(self) -> None:
        """Refresh PostgreSQL's statistics of the tables written, each time the rows created here double.

        The lookups by code are planned from them; after a country's worth of rows in one transaction they
        still describe a scheme of a few hundred nodes, and the planner then reads the whole scheme for
        every chunk instead of using the (scheme, code) index. ANALYZE counts the rows of its own
        transaction."""
        self.analyze_at = 2 * self.created
        if connection.vendor != "postgresql":
            return
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in (Node, IssuedCode, NodeVersion))
        # without the tables' ownership ANALYZE fails: the import is then slower, its result the same
        with contextlib.suppress(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")

    def update(self, changed: list[tuple[_Item, int, set[str]]]) -> None:
        nodes = Node.objects.in_bulk([pk for _item, pk, _changes in changed])
        old: dict[int, dict[str, Any]] = {}
        for item, pk, changes in changed:
            node = nodes[pk]
            old[node.pk] = {f: getattr(node, f if f not in ("node_type", "management_class") else f + "_id")
                            for f in changes if f != "geometry"}
            node.name = item.name
            if "geometry" in changes:
                _apply_geometry(node, item.geom)
            if "attributes" in changes:
                node.attributes = item.attributes
            if "node_type" in changes:
                node.node_type_id = item.node_type_id
            if "management_class" in changes:
                node.management_class_id = item.management_class_id
            node.updated_at = timezone.now()
        moved = [(item, nodes[pk]) for item, pk, changes in changed if "geometry" in changes]
        if moved:
            self.check_within([(item, node.parent_id) for item, node in moved])
            self.check_children_within(moved)
            self.geometry_changed = True
        open_rows = dict(NodeVersion.objects.filter(node_id__in=list(nodes), valid_to__isnull=True)
                         .values_list("node_id", "valid_from"))
        for item, pk, _changes in changed:
            node = nodes[pk]
            since = open_rows.get(node.pk)
            if since is not None and self.on < since:
                raise _err(item.index, "valid_from", _("%(on)s is before the last change of %(node)s on %(last)s")
                           % {"on": self.on, "node": node, "last": since})
        Node.objects.bulk_update(list(nodes.values()), [
            "name", "geometry", "area_m2", "centroid_lon", "centroid_lat", "min_lon", "min_lat", "max_lon", "max_lat",
            "attributes", "node_type", "management_class", "updated_at"])
        NodeVersion.objects.filter(node_id__in=list(nodes), valid_to__isnull=True).update(valid_to=self.on)
        NodeVersion.objects.bulk_create([self.version(nodes[pk], ChangeKind.UPDATE) for _item, pk, _c in changed])
        entries = []
        for item, pk, changes in changed:
            node = nodes[pk]
            diff = {f: [old[node.pk][f], getattr(node, f if f not in ("node_type", "management_class") else f + "_id")]
                    for f in changes if f != "geometry"}
            if "geometry" in changes:
                diff["geometry"] = ["…", "…"]
            entries.append(AuditEntry(actor=self.actor, action="territory.node_update", target_type="territory.node",
                                      target_id=str(node.pk), summary=self.reason[:300], changes=diff))
            self.result.updated[item.level.key] += 1
        AuditEntry.objects.bulk_create(entries)

    def check_children_within(self, moved: list[tuple[_Item, Node]]) -> None:
        """A new boundary must still hold the node's current children (as `node_update` checks)."""
        if not self.check_containment:
            return
        items = {node.pk: item for item, node in moved}
        for parent_id, code, geometry in (Node.objects.current().filter(parent_id__in=items).exclude(geometry=None)
                                          .values_list("parent_id", "code", "geometry")):
            item = items[parent_id]
            outside = geo.outside_area_m2(geo.parse_geometry(geometry), item.geom)
            if outside > area_tolerance_m2(item.geom):
                raise _err(item.index, "geometry", _("the new boundary leaves %(a).0f m² of child %(c)s outside")
                           % {"a": outside, "c": code})

    def version(self, node: Node, change: str) -> NodeVersion:
        return NodeVersion(
            node_id=node.pk, parent_id=node.parent_id, level_id=node.level_id, code=node.code, name=node.name,
            node_type_id=node.node_type_id, management_class_id=node.management_class_id,
            geometry=node.geometry, attributes=node.attributes, valid_from=self.on, valid_to=None,
            change=change, reason=self.reason, actor=self.actor,
        )

    def finish(self) -> BulkResult:
        result = self.result
        if self.created >= ANALYZE_FIRST:
            self.analyze()
        if result.created or self.geometry_changed:
            result.territory_version = territory_version_bump()
        if result.changed:
            audit_record(actor=self.actor, action="territory.nodes_bulk_upsert", target=self.scheme,
                         summary=self.reason, changes={"created": dict(result.created),
                                                       "updated": dict(result.updated)})
        return result
