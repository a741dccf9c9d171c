"""Create or update many base-data records at once: the fast path of spreadsheet imports and demo data.

`people_bulk_upsert` takes rows keyed by the canonical field names of a kind (`KINDS`) and keeps the
invariants the single-record `services` keep, with a fixed number of queries per chunk of rows:
- rows are matched on their natural key in the scheme (a resident's ID number through its keyed digest,
  a house's code, a unit's credit code; households by number); re-importing the same rows writes
  nothing (no version bump, no history row);
- a changed record gets only its changed fields written (stored sealed values are kept unless the
  value behind them changed: seal() is randomised, so "changed" is decided on digests), its `version`
  bumped and a `RecordHistory` row naming the changed fields; a new record gets a CREATE history row;
- ID numbers and phones are cleaned, sealed, digested and masked exactly as `services` does;
- a household has one active head: members of a household are accepted only once its head is known,
  from the file (anywhere in it) or stored; a person is in one household at a time.

Policy: a bad row is skipped and reported (`RowError`: the row as the user sees it in the file, the
column's header, the reason, never the personal value itself); good rows are kept. Each chunk is
written in its own transaction: a database error rolls back that chunk only and its rows are reported
rejected. `dry_run` runs the same code inside a transaction that is rolled back at the end, so its
report equals a real run's.

Speed: values go to the database as plain tuples (executemany on SQLite, COPY on PostgreSQL), ids of
new rows are taken beforehand so that history rows are written with them, and existing rows are read
with one SELECT per chunk and per table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, NotSupportedError, connection, connections, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.selectors import user_scope_paths
from gridgov.core.names import name_clean
from gridgov.people.history import SKIP as HISTORY_SKIP
from gridgov.people.models import (
    Building,
    GroupMembership,
    HistoryAction,
    House,
    Household,
    HouseholdPairing,
    LegalEntity,
    Occupancy,
    PartyMember,
    RecordHistory,
    RecordState,
    Relation,
    Resident,
    SpecialGroup,
    Volunteer,
)
from gridgov.people.services import group_attributes_clean
from gridgov.privacy import crypto
from gridgov.privacy.access import seal_field
from gridgov.privacy.identifiers import UNIT, id_number_clean, phone_clean, uscc_clean
from gridgov.privacy.masking import mask_id_number, mask_phone
from gridgov.territory.locate import locate_many
from gridgov.territory.models import LevelScheme, Node

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000
# The row number a reader found a row at (header = row 1); rows without it are numbered index + 2.
ROW_KEY = "__row__"
# Above this many entries a per-import cache is dropped and read again from the database.
CACHE_LIMIT = 200_000
ANALYZE_FIRST = 10_000  # rows created before the first refresh of PostgreSQL's statistics
SUMMARY_ERRORS = 200

# canonical fields of each kind; required ones first, marked in REQUIRED
KINDS: dict[str, tuple[str, ...]] = {
    "houses": ("house_code", "address", "cell", "lon", "lat", "building_code", "building_name", "building_no",
               "entrance_no", "floor", "room", "occupancy", "area_m2"),
    "residents": ("id_number", "name", "phone", "household_number", "relation", "household_address", "house_code",
                  "cell", "lon", "lat", "registered_here", "living_here", "registered_address", "actual_address",
                  "moved_in_date", "state", "state_date", "groups"),
    "entities": ("credit_code", "name", "industry", "address", "representative", "phone", "employees", "cell",
                 "dedicated_cell", "lon", "lat"),
    "memberships": ("id_number", "group", "start_date"),
    "party_members": ("id_number", "branch_cell", "joined_date", "work_unit", "start_date", "paired_households"),
    "volunteers": ("id_number", "cell", "skills", "start_date"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "houses": ("house_code", "address"),
    "residents": ("id_number", "name"),
    "entities": ("credit_code", "name"),
    "memberships": ("id_number", "group"),
    "party_members": ("id_number", "branch_cell"),
    "volunteers": ("id_number",),
}
# the record type a kind's rows are (for history, access log and counts)
RECORD_TYPES = {"houses": "house", "residents": "resident", "entities": "legalentity", "memberships": "membership",
                "party_members": "partymember", "volunteers": "volunteer"}

# ---------------------------------------------------------------------------------------- vocabularies
RELATIONS: dict[str, str] = {
    **{r.value: r.value for r in Relation},
    "户主": "HEAD", "本人": "HEAD", "户主本人": "HEAD",
    "配偶": "SPOUSE", "妻": "SPOUSE", "夫": "SPOUSE", "妻子": "SPOUSE", "丈夫": "SPOUSE",
    "子": "CHILD", "女": "CHILD", "儿子": "CHILD", "女儿": "CHILD", "子女": "CHILD", "长子": "CHILD", "次子": "CHILD",
    "长女": "CHILD", "次女": "CHILD", "独生子": "CHILD", "独生女": "CHILD", "养子": "CHILD", "养女": "CHILD",
    "儿媳": "CHILD_IN_LAW", "女婿": "CHILD_IN_LAW", "媳妇": "CHILD_IN_LAW",
    "孙子": "GRANDCHILD", "孙女": "GRANDCHILD", "外孙": "GRANDCHILD", "外孙子": "GRANDCHILD", "外孙女": "GRANDCHILD",
    "孙子女": "GRANDCHILD",
    "父亲": "PARENT", "母亲": "PARENT", "父母": "PARENT", "父": "PARENT", "母": "PARENT", "公公": "PARENT",
    "婆婆": "PARENT", "岳父": "PARENT", "岳母": "PARENT",
    "祖父": "GRANDPARENT", "祖母": "GRANDPARENT", "外祖父": "GRANDPARENT", "外祖母": "GRANDPARENT",
    "祖父母": "GRANDPARENT", "爷爷": "GRANDPARENT", "奶奶": "GRANDPARENT",
    "兄弟": "SIBLING", "姐妹": "SIBLING", "兄": "SIBLING", "弟": "SIBLING", "姐": "SIBLING", "妹": "SIBLING",
    "兄弟姐妹": "SIBLING", "哥哥": "SIBLING", "弟弟": "SIBLING", "姐姐": "SIBLING", "妹妹": "SIBLING",
    "其他": "OTHER", "其它": "OTHER",
}
OCCUPANCIES: dict[str, str] = {
    **{o.value: o.value for o in Occupancy},
    "自住": "OWNER", "自有": "OWNER", "自用": "OWNER",
    "出租": "RENTED", "租赁": "RENTED", "租住": "RENTED",
    "空置": "VACANT", "闲置": "VACANT", "空闲": "VACANT",
}
RESIDENT_STATES: dict[str, str] = {
    "ACTIVE": "ACTIVE", "MOVED_OUT": "MOVED_OUT", "DECEASED": "DECEASED", "REMOVED": "REMOVED",
    "在住": "ACTIVE", "正常": "ACTIVE", "现住": "ACTIVE", "迁出": "MOVED_OUT", "外迁": "MOVED_OUT",
    "死亡": "DECEASED", "已故": "DECEASED", "注销": "REMOVED",
}
YES = {"1", "true", "yes", "y", "是", "有", "户籍", "户籍人口", "本地", "常住", "常住人口", "在住", "居住", "√"}
NO = {"0", "false", "no", "n", "否", "无", "流动", "流动人口", "外来", "外来人口", "寄住", "寄住人口", "境外人口",
      "不在住", "外出", "×"}
LIST_SPLIT = re.compile(r"[,，、;；\s]+")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")


# --------------------------------------------------------------------------------------------- report

@dataclass
class RowError:
    row: int
    column: str
    reason: str


@dataclass
class BulkReport:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    rejected_rows: int = 0
    created_by_type: Counter = field(default_factory=Counter)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.rejected_rows

    def rejected_row_numbers(self) -> set[int]:
        return {e.row for e in self.rejected}

    def as_dict(self) -> dict[str, Any]:
        """Counts and the first errors (row, column header, reason): nothing personal."""
        return {"kind": self.kind, "rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "rejected_rows": self.rejected_rows,
                "created_by_type": dict(sorted(self.created_by_type.items())),
                "errors": [{"row": e.row, "column": e.column, "reason": e.reason}
                           for e in sorted(self.rejected, key=lambda e: e.row)[:SUMMARY_ERRORS]],
                "errors_total": len(self.rejected)}


# ------------------------------------------------------------------------------------------- values

def as_text(value: Any) -> str:
    """A cell as text: numbers that are whole (a phone typed as a number) without '.0', dates as ISO."""
    if type(value) is str:
        return " ".join(value.split())
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time.min else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return " ".join(str(value).split())


def parse_date(value: Any) -> dt.date | None:
    """A date from a date, datetime, ISO text, 2024/1/5, 2024.1.5, 20240105, 2024年1月5日 or an Excel
    serial day number; None when empty; ValueError when none of these."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # Excel's serial days (1900 system)
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        raise ValueError("not a date")
    text = as_text(value)
    if not text:
        return None
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date")


class _Row:
    """One input row being cleaned: typed values out, errors collected (field, reason) so that a row
    reports every problem it has at once."""

    __slots__ = ("data", "errors", "number", "texts")

    def __init__(self, number: int, data: dict[str, Any]):
        self.number = number
        self.data = data
        self.errors: list[tuple[str, str]] = []
        self.texts = {name: as_text(value) for name, value in data.items()}

    def fail(self, name: str, reason: str) -> None:
        self.errors.append((name, str(reason)))

    def plain(self, name: str) -> str:
        """The value of `name` as text (see `as_text`), "" when missing."""
        return self.texts.get(name, "")

    def given(self, name: str) -> bool:
        return self.plain(name) != ""

    def text(self, name: str, limit: int, *, required: bool = False) -> str:
        value = self.plain(name)
        if not value and required:
            self.fail(name, _("required: this column is empty"))
        return value[:limit]

    def date(self, name: str) -> dt.date | None:
        try:
            return parse_date(self.data.get(name))
        except ValueError:
            self.fail(name, _("not a date (write it as YYYY-MM-DD)"))
            return None

    def numeric(self, name: str, kind: type, *, minimum: float | None = None) -> Any:
        text = self.plain(name)
        if not text:
            return None
        try:
            value = kind(float(text)) if kind is int else kind(text)
            if kind is int and float(text) != value:
                raise ValueError
        except (TypeError, ValueError):
            self.fail(name, _("not a whole number") if kind is int else _("not a number"))
            return None
        if minimum is not None and value < minimum:
            self.fail(name, _("cannot be less than %(n)s") % {"n": minimum})
            return None
        return value

    def choice(self, name: str, vocabulary: dict[str, str]) -> str | None:
        text = self.plain(name)
        if not text:
            return None
        value = vocabulary.get(text) or vocabulary.get(text.upper())
        if value is None:
            self.fail(name, _("unknown value; one of %(c)s") % {"c": "、".join(
                k for k in vocabulary if not k.isascii())[:200]})
        return value

    def flag(self, name: str) -> bool | None:
        raw = self.data.get(name)
        if isinstance(raw, bool):
            return raw
        text = self.plain(name).lower()
        if not text:
            return None
        if text in YES:
            return True
        if text in NO:
            return False
        self.fail(name, _("say yes or no (是/否, 户籍/流动)"))
        return None

    def coords(self) -> tuple[float | None, float | None]:
        lon, lat = self.numeric("lon", float), self.numeric("lat", float)
        if (lon is None) != (lat is None):
            if not any(n in ("lon", "lat") for n, _r in self.errors):
                self.fail("lon" if lon is None else "lat", _("give both longitude and latitude, or neither"))
            return None, None
        if lon is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
            self.fail("lon", _("coordinates out of range (longitude −180…180, latitude −90…90)"))
            return None, None
        return lon, lat

    def cleaned(self, name: str, clean: Callable[..., Any]) -> Any:
        """`clean(value, field=name)` or None with its (value-free) reason recorded."""
        try:
            return clean(self.plain(name), field=name)
        except ValidationError as exc:
            self.fail(name, exc.messages[0])
            return None


# ----------------------------------------------------------------------------------------- cells

class _Cells:
    """The active nodes of a scheme, found by code, by a name unique among them, or by "parent/name"."""

    def __init__(self, scheme: LevelScheme, *, scope_paths: list[str] | None = None):
        self.scheme = scheme
        nodes = list(Node.objects.filter(scheme=scheme, valid_to__isnull=True).order_by()
                     .values_list("id", "code", "name", "parent_id", "path"))
        # the cells the importing user may write to (None: no limit — a superuser, a command-line run)
        self.allowed: set[int] | None = None if scope_paths is None else {
            pk for pk, *_rest, path in nodes if any(path.startswith(p) for p in scope_paths)}
        nodes = [row[:4] for row in nodes]
        names = {pk: name for pk, _code, name, _parent in nodes}
        self.by_code = {code: pk for pk, code, _name, _parent in nodes if code}
        self.by_name: dict[str, list[int]] = {}
        self.by_path: dict[str, list[int]] = {}
        for pk, _code, name, parent_id in nodes:
            self.by_name.setdefault(name, []).append(pk)
            if parent_id in names:
                self.by_path.setdefault(f"{names[parent_id]}/{name}", []).append(pk)
        self.ids = set(names)
        self._answers: dict[str, tuple[int | None, str]] = {}

    def resolve(self, value: str) -> tuple[int | None, str]:
        """(node id, "") or (None, reason)."""
        if value in self._answers:
            return self._answers[value]
        answer = self._resolve(value)
        if answer[0] is not None and not self.in_scope(answer[0]):
            answer = (None, _("grid %(v)s lies outside your territory") % {"v": value})
        if len(self._answers) < 10_000:
            self._answers[value] = answer
        return answer

    def in_scope(self, pk: int) -> bool:
        return self.allowed is None or pk in self.allowed

    def _resolve(self, value: str) -> tuple[int | None, str]:
        if value in self.by_code:
            return self.by_code[value], ""
        for lookup in (self.by_name, self.by_path):
            found = lookup.get(value) or lookup.get(value.replace("／", "/").replace(" / ", "/"))
            if found and len(found) == 1:
                return found[0], ""
            if found:
                return None, _("grid name %(v)s matches %(n)d cells, give its code") % {"v": value, "n": len(found)}
        other = Node.objects.filter(code=value).exclude(code="").values_list("scheme_id", "valid_to").first()
        if other is not None and other[0] != self.scheme.pk:
            return None, _("grid %(v)s belongs to another level scheme") % {"v": value}
        if other is not None:
            return None, _("grid %(v)s is retired") % {"v": value}
        return None, _("unknown grid '%(v)s'") % {"v": value}


def _scope_paths(actor) -> list[str] | None:
    """The territory an import by `actor` may write to; None = anywhere (no actor: a command-line run)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return user_scope_paths(actor)


def _locate(scheme: LevelScheme, rows: list[tuple[_Row, float, float]]) -> list[int | None]:
    """The cells of many points at once (None outside every cell)."""
    if not rows:
        return []
    ids = locate_many(np.fromiter((lon for _r, lon, _lat in rows), float, len(rows)),
                      np.fromiter((lat for _r, _lon, lat in rows), float, len(rows)), scheme=scheme)
    return [int(pk) if pk >= 0 else None for pk in ids]


# ------------------------------------------------------------------------------------ raw SQL tables

def _allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Ids for `count` new rows, taken before they are inserted so that history rows carry them.

    PostgreSQL: from the table's identity sequence, safe beside concurrent writers. SQLite: after the
    largest id ever given (AUTOINCREMENT's sqlite_sequence), safe because the transaction holds SQLite's
    single write lock from its first write on, and the no-op UPDATE makes sure it has one."""
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [table, count])
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"UPDATE {quoted} SET id = id WHERE 0")  # noqa: S608 (table name from the model)
            cursor.execute(f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
                           f"coalesce((SELECT max(id) FROM {quoted}), 0))", [table])
            start = cursor.fetchone()[0] + 1
            return list(range(start, start + count))
    raise NotSupportedError(f"people_bulk_upsert supports SQLite and PostgreSQL, not {connection.vendor}")


class _Table:
    """Raw reads and writes of one model's rows as dicts keyed by column attname.

    The ORM compiles every value through its field machinery several times over; here plain values
    (text, numbers, ids) go as they are and only dates, booleans and JSON through their field."""

    PLAIN = (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.ForeignKey)

    def __init__(self, model: type[models.Model], *, skip: Sequence[str] = ()):
        self.model = model
        self.conn = connections[DEFAULT_DB_ALIAS]  # the connection itself: the proxy costs per access
        self.fields = {f.attname: f for f in model._meta.concrete_fields if f.attname not in skip}
        self.columns = tuple(self.fields)
        qn = connection.ops.quote_name
        self.table = qn(model._meta.db_table)
        self.names = ", ".join(qn(f.column) for f in self.fields.values())
        self.convert = [(i, conv) for i, f in enumerate(self.fields.values())
                        if (conv := self.converter(f)) is not None]
        marks = ", ".join(["%s"] * len(self.columns))
        self.insert_sql = f"INSERT INTO {self.table} ({self.names}) VALUES ({marks})"  # noqa: S608
        self.copy_sql = f"COPY {self.table} ({self.names}) FROM STDIN"
        updatable = [c for c in self.columns if c not in ("id", "scheme_id", "created_at", "created_by_id")]
        self.update_columns = updatable
        sets = ", ".join(f"{qn(self.fields[c].column)} = %s" for c in updatable)
        self.update_sql = f"UPDATE {self.table} SET {sets} WHERE id = %s"  # noqa: S608

    def converter(self, f: models.Field) -> Callable[[Any], Any] | None:
        """How a value of `f` goes into an INSERT (executemany or COPY's text format): None = as it is."""
        if isinstance(f, (*self.PLAIN, models.BooleanField)):
            return None
        if isinstance(f, models.JSONField):
            encoder = f.encoder
            return lambda value: json.dumps(value, cls=encoder)
        if isinstance(f, models.DateTimeField):
            # nearly every row of a chunk carries the same instant: convert it once
            last: list[Any] = [None, None]

            def instant(value: Any) -> Any:
                if value is not last[0]:
                    last[0], last[1] = value, f.get_db_prep_save(value, self.conn)
                return last[1]

            return instant
        if isinstance(f, models.DateField):
            return dt.date.isoformat if self.conn.vendor == "sqlite" else None
        return lambda value: f.get_db_prep_save(value, self.conn)

    def prepared(self, row: dict[str, Any]) -> list[Any]:
        values = [row[c] for c in self.columns]
        for i, convert in self.convert:
            if values[i] is not None:
                values[i] = convert(values[i])
        return values

    def insert(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY is several times faster than executemany over psycopg's client-side binding; it
                # goes around Django's cursor, so its errors are wrapped here (DatabaseError, not psycopg's)
                with connection.wrap_database_errors, cursor.cursor.copy(self.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(self.prepared(row))
            else:
                cursor.executemany(self.insert_sql, [self.prepared(row) for row in rows])

    def update(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        convert = [(i, self.fields[c]) for i, c in enumerate(self.update_columns)
                   if not isinstance(self.fields[c], self.PLAIN)]
        params = []
        for row in rows:
            values = [row[c] for c in self.update_columns]
            for i, f in convert:
                if values[i] is not None:
                    values[i] = f.get_db_prep_save(values[i], self.conn)
            values.append(row["id"])
            params.append(values)
        with connection.cursor() as cursor:
            cursor.executemany(self.update_sql, params)

    def select(self, where: str, params: list[Any]) -> list[dict[str, Any]]:
        sql = f"SELECT {self.names} FROM {self.table} WHERE {where}"  # noqa: S608 (names from the model)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        found = []
        json_at = [(i, f) for i, f in enumerate(self.fields.values()) if isinstance(f, models.JSONField)]
        for values in rows:
            if json_at:
                values = list(values)
                for i, f in json_at:
                    values[i] = f.from_db_value(values[i], None, connection)
            found.append(dict(zip(self.columns, values, strict=True)))
        return found


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


# --------------------------------------------------------------------------------------- the upsert

def people_bulk_upsert(*, scheme: LevelScheme, kind: str, rows: Iterable[dict[str, Any]], actor=None,
                       source: str = "", dry_run: bool = False, progress: Callable[[int], None] | None = None,
                       columns: dict[str, str] | None = None, chunk_size: int = CHUNK_SIZE) -> BulkReport:
    """Create the records of `rows` that are not stored in `scheme` and update the ones that changed.

    `rows` are dicts keyed by the canonical fields of `kind` (see `KINDS`; values as text read from a
    file or already typed), optionally with ROW_KEY giving the row's number in the file. `columns` maps
    canonical fields to the file's headers, for the error messages. `progress(n)` is called after each
    chunk with the number of rows it held. Never raises for bad rows: they are in the report."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    upsert = _IMPORTERS[kind](scheme=scheme, kind=kind, actor=actor, source=source, columns=columns or {})
    numbered = ((row.get(ROW_KEY) or index + 2, row) for index, row in enumerate(rows))

    def run() -> None:
        while chunk := list(itertools.islice(numbered, chunk_size)):
            upsert.run_chunk([_Row(int(number), data) for number, data in chunk])
            if progress is not None:
                progress(len(chunk))
        upsert.finish(chunk_size)
        upsert.report.rejected.sort(key=lambda e: e.row)

    if not dry_run:
        run()  # each chunk commits on its own
    else:
        # the same writes, seen by the later chunks as in a real run, then undone
        with transaction.atomic():
            run()
            transaction.set_rollback(True)
    return upsert.report


class _Import:
    """What every kind shares: the report, the cells, duplicate detection, chunk transactions."""

    record_type = ""
    analyzed: tuple[type[models.Model], ...] = (RecordHistory,)

    def __init__(self, *, scheme: LevelScheme, kind: str, actor, source: str, columns: dict[str, str]):
        self.scheme = scheme
        self.kind = kind
        self.actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
        self.source = source[:60]
        self.columns = columns
        self.report = BulkReport(kind=kind)
        self.cells = _Cells(scheme, scope_paths=_scope_paths(actor))
        self.seen: dict[Any, int] = {}  # natural key → row number of its first occurrence in the file
        self.today = timezone.localdate()
        self.history_table = _Table(RecordHistory, skip=("id",))
        self.created_rows = 0
        self.analyze_at = ANALYZE_FIRST
        self.snapshot_columns: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ rows
    def header(self, name: str) -> str:
        return self.columns.get(name, name)

    def reject(self, row: _Row) -> None:
        for name, reason in row.errors:
            self.report.rejected.append(RowError(row=row.number, column=self.header(name), reason=reason))
        self.report.rejected_rows += 1

    def required(self, row: _Row) -> None:
        for name in REQUIRED[self.kind]:
            if not row.given(name):
                row.fail(name, _("required: this column is empty"))

    def once(self, row: _Row, key: Any, name: str) -> bool:
        """False (and the row failed) when `key` came in an earlier row of the file."""
        first = self.seen.get(key)
        if first is not None:
            row.fail(name, _("repeats row %(n)d") % {"n": first})
            return False
        self.seen[key] = row.number
        return True

    def cell(self, row: _Row, name: str) -> int | None:
        value = row.plain(name)
        if not value:
            return None
        pk, reason = self.cells.resolve(value)
        if reason:
            row.fail(name, reason)
        return pk

    def place(self, items: list[Any], *, missing_ok: Callable[[Any], bool]) -> None:
        """Give items without a cell the cell at their coordinates (one spatial query for the chunk);
        an item with neither, unless `missing_ok(item)`, fails."""
        wanted = [(item, item.lon, item.lat) for item in items if item.node_id is None and item.lon is not None]
        for (item, _lon, _lat), pk in zip(wanted, _locate(self.scheme, wanted), strict=True):
            if pk is None:
                item.row.fail("lon", _("the point lies outside every cell"))
            elif not self.cells.in_scope(pk):
                item.row.fail("lon", _("the point lies outside your territory"))
                pk = None
            item.node_id = pk
        for item in items:
            if item.node_id is None and item.lon is None and not item.row.errors and not missing_ok(item):
                item.row.fail("cell", _("give the grid, the coordinates or the house it belongs to"))
            elif item.node_id is not None and not item.row.errors and not self.cells.in_scope(item.node_id):
                item.row.fail("cell", _("the house or household it belongs to lies outside your territory"))

    def outside(self, stored: dict[str, Any] | None, row: _Row, name: str) -> bool:
        """True (and the row failed) when the stored record the row names lies outside the importer's
        territory: an import may not move or change what the importer could not open."""
        if stored is None or self.cells.in_scope(stored["node_id"]):
            return False
        row.fail(name, _("this record is stored outside your territory"))
        return True

    # ------------------------------------------------------------------ chunks
    def run_chunk(self, rows: list[_Row]) -> None:
        raise NotImplementedError

    def finish(self, chunk_size: int) -> None:
        """After the last chunk (rows held back until the whole file was seen)."""

    def write(self, rows: list[_Row], work: Callable[[], tuple[Counter, Counter]]) -> None:
        """Run `work` (the chunk's writes; it returns (outcome counts, created by type)) in a transaction:
        on a database error nothing of it stays and every row it held is reported rejected."""
        try:
            with transaction.atomic():
                outcomes, created = work()
        except DatabaseError as exc:
            # the message may quote a failing row's values: log the kind of error only
            logger.warning("people import: a chunk of %d rows (from row %d) was rolled back: %s", len(rows),
                           rows[0].number if rows else 0, type(exc).__name__)
            first, last = min(r.number for r in rows), max(r.number for r in rows)
            for row in rows:
                row.errors = [("", _("not saved: the database refused the rows %(a)d–%(b)d together, none of them "
                                     "was written") % {"a": first, "b": last})]
                self.reject(row)
            self.rolled_back(rows)
            return
        self.report.created += outcomes["created"]
        self.report.updated += outcomes["updated"]
        self.report.unchanged += outcomes["unchanged"]
        self.report.created_by_type += created  # (drops the zero counts)
        self.created_rows += sum(created.values())
        if self.created_rows >= self.analyze_at:
            self.analyze()
        self.committed()

    def analyze(self) -> None:
        """Refresh PostgreSQL's statistics each time the rows created here double: planned from an empty
        table, the lookups by natural key would read whole tables once they hold a million rows."""
        self.analyze_at = 2 * self.created_rows
        if connection.vendor != "postgresql":
            return
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in self.analyzed)
        # without the tables' ownership ANALYZE fails: the import is then slower, its result the same
        with contextlib.suppress(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")

    def rolled_back(self, rows: list[_Row]) -> None:
        """Forget what the chunk would have added to the import's memory."""

    def committed(self) -> None:
        """Keep what the chunk added to the import's memory."""

    # ------------------------------------------------------------------ records with history
    def history(self, table: _Table, record_type: str, rows: list[tuple[dict[str, Any], str, list[str]]],
                now: dt.datetime) -> None:
        """History rows for records as written: (record, action, changed fields)."""
        if not rows:
            return
        snap = self.snapshot_columns.get(record_type)
        if snap is None:
            snap = self.snapshot_columns[record_type] = [c for c in table.columns
                                                         if table.fields[c].name not in HISTORY_SKIP]
        self.history_table.insert([{
            "record_type": record_type, "record_id": record["id"], "version": record["version"], "action": action,
            "at": now, "actor_id": self.actor_id, "source": self.source, "changed": sorted(changed),
            "snapshot": {c: _plain(record[c]) for c in snap},
        } for record, action, changed in rows])

    def new_record(self, values: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        return {"scheme_id": self.scheme.pk, "lon": None, "lat": None, "state": RecordState.ACTIVE.value,
                "state_date": None, "state_reason": "", "attributes": {}, "version": 1, "created_at": now,
                "updated_at": now, "created_by_id": self.actor_id, "updated_by_id": self.actor_id, **values}

    def changes(self, stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
        return [c for c, v in wanted.items() if stored[c] != v]

    def bump(self, stored: dict[str, Any], wanted: dict[str, Any], changed: list[str], now: dt.datetime) -> dict:
        record = dict(stored)
        for c in changed:
            record[c] = wanted[c]
        record["version"] = stored["version"] + 1
        record["updated_at"] = now
        record["updated_by_id"] = self.actor_id
        return record

    @staticmethod
    def field_names(model: type[models.Model], changed: Iterable[str]) -> list[str]:
        """attnames → field names (node_id → node), as `services` names changed fields."""
        names = {f.attname: f.name for f in model._meta.concrete_fields}
        return [names.get(c, c) for c in changed]


def _sealed(record_type: str, name: str, value: str) -> tuple[str, str]:
    label = seal_field(record_type, name)
    return crypto.seal(value, field=label), crypto.digest(value, field=label)


def _phone_columns(record_type: str, phone: str) -> dict[str, str]:
    sealed, digest = _sealed(record_type, "phone", phone)
    return {"phone_sealed": sealed, "phone_digest": digest, "phone_masked": mask_phone(phone)}


# ------------------------------------------------------------------------------------------- houses

class _KeyedImport(_Import):
    """Rows of records with a natural key of their own (house code, credit code): one lookup of the stored
    records per chunk, then `apply` creates or updates. Each kind defines `prepare(row)` (an item with
    .row, .code, .node_id, .lon, .lat) and `apply(items, stored)`."""

    key_column = ""  # the model's column holding the natural key
    key_field = ""  # the row's field giving it

    def run_chunk(self, rows: list[_Row]) -> None:
        items = [self.prepare(row) for row in rows]
        codes = [item.code for item in items if item.code and not item.row.errors]
        stored = {r[self.key_column]: r for r in self.table.select(
            f"scheme_id = %s AND {self.key_column} IN ({_marks(codes)})", [self.scheme.pk, *codes])} if codes else {}
        for item in items:
            self.outside(stored.get(item.code), item.row, self.key_field)
        self.place([i for i in items if not i.row.errors], missing_ok=lambda item: item.code in stored)
        good = []
        for item in items:
            if item.row.errors:
                self.reject(item.row)
            else:
                good.append(item)
        self.write([item.row for item in good], lambda: self.apply(good, stored))


@dataclass(slots=True)
class _HouseItem:
    row: _Row
    code: str
    values: dict[str, Any]
    node_id: int | None
    lon: float | None
    lat: float | None
    building_code: str
    building_name: str


class _HouseImport(_KeyedImport):
    record_type = "house"
    key_column, key_field = "code", "house_code"
    analyzed = (House, Building, RecordHistory)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table = _Table(House)
        self.buildings = _Table(Building)

    def prepare(self, row: _Row) -> _HouseItem:
        self.required(row)
        code = row.text("house_code", 60)
        values: dict[str, Any] = {}
        if row.given("address"):
            values["address"] = row.text("address", 300)
        for name in ("building_no", "entrance_no", "room"):
            if row.given(name):
                values[name] = row.text(name, 20)
        if row.given("floor"):
            values["floor"] = row.numeric("floor", int)
        if row.given("occupancy"):
            values["occupancy"] = row.choice("occupancy", OCCUPANCIES)
        if row.given("area_m2"):
            values["area_m2"] = row.numeric("area_m2", float, minimum=0)
        lon, lat = row.coords()
        if lon is not None:
            values["lon"], values["lat"] = lon, lat
        node_id = self.cell(row, "cell")
        if code:
            self.once(row, code, "house_code")
        return _HouseItem(row, code, values, node_id, lon, lat, row.text("building_code", 40),
                          row.text("building_name", 200))

    def apply(self, items: list[_HouseItem], stored: dict[str, dict]) -> tuple[Counter, Counter]:
        now = timezone.now()
        outcomes, created = Counter(), Counter()
        building_ids = self.building_ids(items, now, created)
        fresh, changed, history = [], [], []
        for item in items:
            values = dict(item.values)
            if item.node_id is not None:
                values["node_id"] = item.node_id
            if item.building_code:
                values["building_id"] = building_ids[item.building_code]
            old = stored.get(item.code)
            if old is None:
                values.setdefault("building_no", item.building_code[:20])
                fresh.append((item, values))
                continue
            diff = self.changes(old, values)
            if not diff:
                outcomes["unchanged"] += 1
                continue
            record = self.bump(old, values, diff, now)
            changed.append(record)
            history.append((record, HistoryAction.UPDATE, self.field_names(House, diff)))
            outcomes["updated"] += 1
        records = []
        for (item, values), pk in zip(fresh, _allocate_ids(House, len(fresh)), strict=True):
            record = self.new_record({
                "id": pk, "code": item.code, "building_id": None, "address": "", "building_no": "",
                "entrance_no": "", "floor": None, "room": "", "occupancy": Occupancy.OWNER.value, "area_m2": None,
                **values}, now)
            records.append(record)
            history.append((record, HistoryAction.CREATE, []))
        self.table.insert(records)
        self.table.update(changed)
        self.history(self.table, "house", history, now)
        outcomes["created"] += len(records)
        created["house"] += len(records)
        return outcomes, created

    def building_ids(self, items: list[_HouseItem], now: dt.datetime, created: Counter) -> dict[str, int]:
        """The buildings the houses name, created (in the first house's cell) when missing."""
        wanted: dict[str, _HouseItem] = {}
        for item in items:
            if item.building_code:
                wanted.setdefault(item.building_code, item)
        if not wanted:
            return {}
        codes = list(wanted)
        found = {r["code"]: r["id"] for r in self.buildings.select(
            f"scheme_id = %s AND code IN ({_marks(codes)})", [self.scheme.pk, *codes])}
        missing = [code for code in codes if code not in found]
        records = []
        for code, pk in zip(missing, _allocate_ids(Building, len(missing)), strict=True):
            item = wanted[code]
            node_id = item.node_id
            if node_id is None:  # an existing house in a new building: the building takes the house's cell
                node_id = House.objects.filter(scheme=self.scheme, code=item.code).values_list("node_id",
                                                                                                flat=True).first()
            records.append(self.new_record({"id": pk, "node_id": node_id, "code": code,
                                            "name": item.building_name or code, "address": "", "floors": None}, now))
            found[code] = pk
        self.buildings.insert(records)
        self.history(self.buildings, "building", [(r, HistoryAction.CREATE, []) for r in records], now)
        created["building"] += len(records)
        return found


# ------------------------------------------------------------------------------------------ entities

@dataclass(slots=True)
class _EntityItem:
    row: _Row
    code: str
    values: dict[str, Any]
    phone: str | None
    node_id: int | None
    lon: float | None
    lat: float | None


class _EntityImport(_KeyedImport):
    record_type = "legalentity"
    key_column, key_field = "credit_code", "credit_code"
    analyzed = (LegalEntity, RecordHistory)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table = _Table(LegalEntity)

    def prepare(self, row: _Row) -> _EntityItem:
        self.required(row)
        code = row.cleaned("credit_code", uscc_clean) if row.given("credit_code") else ""
        values: dict[str, Any] = {}
        for name, limit in (("name", 200), ("representative", 100)):
            if row.given(name):
                values[name] = row.cleaned(name, lambda v, field, limit=limit: name_clean(v, field=field, limit=limit))
        for name, limit in (("industry", 100), ("address", 300)):
            if row.given(name):
                values[name] = row.text(name, limit)
        if row.given("employees"):
            values["employees"] = row.numeric("employees", int, minimum=0)
        phone = (row.cleaned("phone", lambda v, field: phone_clean(v, kind=UNIT, field=field))
                 if row.given("phone") else None)
        lon, lat = row.coords()
        if lon is not None:
            values["lon"], values["lat"] = lon, lat
        dedicated = self.cell(row, "dedicated_cell")
        if dedicated is not None:
            values["dedicated_node_id"] = dedicated
        node_id = self.cell(row, "cell")
        if node_id is None and not row.given("cell") and lon is None:
            node_id = dedicated
        if code:
            self.once(row, code, "credit_code")
        return _EntityItem(row, code or "", values, phone, node_id, lon, lat)

    def apply(self, items: list[_EntityItem], stored: dict[str, dict]) -> tuple[Counter, Counter]:
        now = timezone.now()
        outcomes, created = Counter(), Counter()
        fresh, changed, history = [], [], []
        for item in items:
            values = dict(item.values)
            if item.node_id is not None:
                values["node_id"] = item.node_id
            old = stored.get(item.code)
            phone = item.phone
            if old is None:
                if phone:
                    values.update(_phone_columns("legalentity", phone))
                fresh.append((item, values))
                continue
            diff = self.changes(old, values)
            if phone is not None:
                digest = crypto.digest(phone, field=seal_field("legalentity", "phone"))
                if digest != old["phone_digest"]:
                    values.update(_phone_columns("legalentity", phone))
                    diff += ["phone_sealed", "phone_digest", "phone_masked"]
            if not diff:
                outcomes["unchanged"] += 1
                continue
            record = self.bump(old, values, diff, now)
            changed.append(record)
            history.append((record, HistoryAction.UPDATE, self.field_names(LegalEntity, diff)))
            outcomes["updated"] += 1
        records = []
        for (item, values), pk in zip(fresh, _allocate_ids(LegalEntity, len(fresh)), strict=True):
            record = self.new_record({
                "id": pk, "credit_code": item.code, "industry": "", "address": "", "representative": "",
                "phone_sealed": "", "phone_digest": "", "phone_masked": "", "employees": None,
                "dedicated_node_id": None, **values}, now)
            records.append(record)
            history.append((record, HistoryAction.CREATE, []))
        self.table.insert(records)
        self.table.update(changed)
        self.history(self.table, "legalentity", history, now)
        outcomes["created"] += len(records)
        created["legalentity"] += len(records)
        return outcomes, created


# ----------------------------------------------------------------------------------------- residents

@dataclass(slots=True)
class _ResidentItem:
    row: _Row
    number: str  # the cleaned ID number (clear: it is sealed when written, never kept)
    gender: str
    birth_date: dt.date | None
    key: int  # the digest's first 96 bits, for duplicates in the file
    digest: str
    values: dict[str, Any]
    phone: str | None
    household: str
    household_address: str
    house_code: str
    relation: str | None
    node_id: int | None
    lon: float | None
    lat: float | None
    state: str | None
    groups: list[int]
    given_cell: bool

    @property
    def heads(self) -> bool:
        """This row makes its person the active head of its household."""
        return self.relation == Relation.HEAD.value and (self.state or RecordState.ACTIVE.value) == "ACTIVE"


class _ResidentImport(_Import):
    """Residents and the households they name. A member of a household whose head is neither stored nor
    seen yet in the file waits until the end of the file; the head may come later."""

    record_type = "resident"
    analyzed = (Resident, Household, GroupMembership, RecordHistory)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table = _Table(Resident)
        self.households = _Table(Household)
        self.id_label = seal_field("resident", "id_number")
        self.phone_label = seal_field("resident", "phone")
        self.waiting: list[_ResidentItem] = []
        self.groups = self.group_lookup()
        self.houses: dict[str, tuple[int, int, str]] = {}  # code → (id, node id, address)
        self.new_household_cells: dict[str, int] = {}

    @staticmethod
    def group_lookup() -> dict[str, SpecialGroup]:
        found: dict[str, SpecialGroup] = {}
        for group in SpecialGroup.objects.all():
            for name in (group.key, group.name_zh, group.name_en):
                if name:
                    found.setdefault(name, group)
                    found.setdefault(name.lower(), group)
        return found

    # ------------------------------------------------------------------ cleaning
    def prepare(self, row: _Row) -> _ResidentItem | None:
        self.required(row)
        info = row.cleaned("id_number", id_number_clean) if row.given("id_number") else None
        values: dict[str, Any] = {}
        if row.given("name"):
            values["name"] = row.cleaned("name", name_clean)
        for name in ("registered_address", "actual_address"):
            if row.given(name):
                values[name] = row.text(name, 300)
        for name in ("registered_here", "living_here"):
            flag = row.flag(name)
            if flag is not None:
                values[name] = flag
        moved_in = row.date("moved_in_date")
        if moved_in is not None:
            values["moved_in_date"] = moved_in
        state = row.choice("state", RESIDENT_STATES)
        state_date = row.date("state_date")
        if state_date is not None and state_date > self.today:
            row.fail("state_date", _("the date cannot be in the future"))
        if state is not None and state != "ACTIVE" and state_date is None and not row.given("state_date"):
            row.fail("state_date", _("give the date of the change"))
        if state is not None:
            values["state"] = state
            if state_date is not None:
                values["state_date"] = state_date
            if state == "MOVED_OUT":
                values["moved_out_date"] = state_date
            elif state == "ACTIVE":
                values["moved_out_date"] = None
        if moved_in is not None and values.get("moved_out_date") and values["moved_out_date"] < moved_in:
            row.fail("state_date", _("the move-out date is before the move-in date"))
        phone = row.cleaned("phone", phone_clean) if row.given("phone") else None
        relation = row.choice("relation", RELATIONS)
        lon, lat = row.coords()
        if lon is not None:
            values["lon"], values["lat"] = lon, lat
        node_id = self.cell(row, "cell")
        groups = []
        for name in LIST_SPLIT.split(row.plain("groups")):
            if not name:
                continue
            group = self.groups.get(name) or self.groups.get(name.lower())
            if group is None:
                row.fail("groups", _("unknown special group %(g)s") % {"g": name})
            elif any(f.get("required") for f in group.fields):
                row.fail("groups", _("%(g)s needs its attributes: import it as special-group memberships")
                         % {"g": group.name_zh})
            else:
                groups.append(group.pk)
        household = row.text("household_number", 40)
        if info is None:  # the ID number is missing or invalid: the row has failed already
            return None
        digest = crypto.digest(info.number, field=self.id_label)
        key = int(digest[:24], 16)
        self.once(row, key, "id_number")
        return _ResidentItem(row=row, number=info.number, gender=info.gender, birth_date=info.birth_date, key=key,
                             digest=digest, values=values, phone=phone, household=household,
                             household_address=row.text("household_address", 300),
                             house_code=row.text("house_code", 60), relation=relation, node_id=node_id, lon=lon,
                             lat=lat, state=state, groups=groups, given_cell=node_id is not None)

    # ------------------------------------------------------------------ chunks
    def run_chunk(self, rows: list[_Row]) -> None:
        items = []
        for row in rows:
            item = self.prepare(row)
            if item is not None and not row.errors:
                items.append(item)
            else:
                self.reject(row)
        self.process(items, final=False)

    def process(self, items: list[_ResidentItem], *, final: bool) -> None:
        digests = [item.digest for item in items]
        stored = {r["id_digest"]: r for r in self.table.select(
            f"scheme_id = %s AND id_digest IN ({_marks(digests)})", [self.scheme.pk, *digests])} if digests else {}
        houses = self.house_lookup([item.house_code for item in items if item.house_code])
        numbers = sorted({item.household for item in items if item.household})
        households = {r["number"]: r for r in self.households.select(
            f"scheme_id = %s AND number IN ({_marks(numbers)})", [self.scheme.pk, *numbers])} if numbers else {}
        heads = self.stored_heads([h["id"] for h in households.values()])
        names_by_id = {h["id"]: h["number"] for h in households.values()}
        other_ids = {r["household_id"] for r in stored.values() if r["household_id"] is not None
                     and r["household_id"] not in names_by_id}
        if other_ids:
            names_by_id.update(Household.objects.filter(pk__in=other_ids).values_list("id", "number"))
        ready = []
        for item in items:
            if item.house_code:
                house = houses.get(item.house_code)
                if house is None:
                    item.row.fail("house_code", _("unknown house %(c)s") % {"c": item.house_code})
                    self.reject(item.row)
                    continue
                if item.node_id is None and item.lon is None:
                    item.node_id = house[1]
            old = stored.get(item.digest)
            if self.outside(old, item.row, "id_number") or (
                    item.household and self.outside(households.get(item.household), item.row, "household_number")):
                self.reject(item.row)
                continue
            if old is not None:
                moved_in = item.values.get("moved_in_date", old["moved_in_date"])
                moved_out = item.values.get("moved_out_date", old["moved_out_date"])
                if moved_in and moved_out and moved_out < moved_in:
                    item.row.fail("moved_in_date", _("the move-out date is before the move-in date"))
                    self.reject(item.row)
                    continue
            ready.append(item)
        # a stored resident keeps their cell, a member takes their household's; a new head needs one
        self.place(ready, missing_ok=lambda item: item.digest in stored or item.household in households
                   or bool(item.household and not item.heads))
        # heads first, so that members of the chunk find their head wherever it stands in the chunk
        ready.sort(key=lambda item: not item.heads)
        head_rows: dict[str, int] = {}  # household number → row of its head in this chunk
        accepted: list[_ResidentItem] = []
        for item in ready:
            if item.row.errors:
                self.reject(item.row)
                continue
            old = stored.get(item.digest)
            if item.household and not self.household_ok(item, old, households, heads, head_rows, names_by_id,
                                                       final=final):
                continue
            if item.row.errors:
                self.reject(item.row)
                continue
            accepted.append(item)
        self.write([item.row for item in accepted], lambda: self.apply(accepted, stored, households, houses))

    def household_ok(self, item: _ResidentItem, old: dict | None, households: dict[str, dict],
                     heads: dict[int, str], head_rows: dict[str, int], names_by_id: dict[int, str], *,
                     final: bool) -> bool:
        """Check the household the row names; False when the row is rejected or held back."""
        number = item.household
        hh = households.get(number)
        if old is not None and old["household_id"] is not None and old["state"] == "ACTIVE" and (
                hh is None or old["household_id"] != hh["id"]):
            item.row.fail("household_number", _("already a member of household %(n)s; record the move-out first")
                          % {"n": names_by_id.get(old["household_id"], "?")})
            self.reject(item.row)
            return False
        if hh is not None and hh["state"] != "ACTIVE":
            item.row.fail("household_number", _("household %(n)s is no longer active") % {"n": number})
            self.reject(item.row)
            return False
        member_already = old is not None and hh is not None and old["household_id"] == hh["id"]
        if item.relation is None:
            if member_already:
                item.relation = old["relation"]
            else:
                item.row.fail("relation", _("say how the resident is related to the head of the household"))
                self.reject(item.row)
                return False
        stored_head = heads.get(hh["id"]) if hh is not None else None
        if item.heads:
            if stored_head is not None and stored_head != item.digest:
                item.row.fail("relation", _("household %(n)s already has a head") % {"n": number})
            elif number in head_rows:
                item.row.fail("relation", _("household %(n)s has two heads (rows %(a)d and %(b)d)")
                              % {"n": number, "a": head_rows[number], "b": item.row.number})
            if item.row.errors:
                self.reject(item.row)
                return False
            head_rows[number] = item.row.number
            return True
        if stored_head is not None and stored_head == item.digest and (item.state or old["state"]) == "ACTIVE":
            item.row.fail("relation", _("this resident is the head of household %(n)s: name the new head on the "
                                        "household first") % {"n": number})
            self.reject(item.row)
            return False
        if (item.state or (old["state"] if old else "ACTIVE")) != "ACTIVE":
            return True
        if stored_head is not None or number in head_rows:
            return True
        if final:
            item.row.fail("household_number", _("household %(n)s has no head (relation to the head = head)")
                          % {"n": number})
            self.reject(item.row)
        else:
            self.waiting.append(item)
        return False

    def stored_heads(self, household_ids: list[int]) -> dict[int, str]:
        """household id → ID digest of its active head."""
        if not household_ids:
            return {}
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT household_id, id_digest FROM {self.table.table} "  # noqa: S608 (names from the model)
                f"WHERE household_id IN ({_marks(household_ids)}) AND relation = %s AND state = %s",
                [*household_ids, Relation.HEAD.value, RecordState.ACTIVE.value])
            return dict(cursor.fetchall())

    def house_lookup(self, codes: list[str]) -> dict[str, tuple[int, int, str]]:
        missing = sorted({c for c in codes if c not in self.houses})
        if missing:
            if len(self.houses) > CACHE_LIMIT:
                self.houses.clear()
            self.houses.update({code: (pk, node_id, address) for pk, code, node_id, address in House.objects.filter(
                scheme=self.scheme, code__in=missing).order_by().values_list("id", "code", "node_id", "address")})
        return {c: self.houses[c] for c in codes if c in self.houses}

    def finish(self, chunk_size: int) -> None:
        waiting, self.waiting = self.waiting, []
        for start in range(0, len(waiting), chunk_size):
            self.process(waiting[start:start + chunk_size], final=True)

    # ------------------------------------------------------------------ writes
    def apply(self, items: list[_ResidentItem], stored: dict[str, dict], households: dict[str, dict],
              houses: dict[str, tuple[int, int, str]]) -> tuple[Counter, Counter]:
        now = timezone.now()
        outcomes, created = Counter(), Counter()
        household_ids = {number: h["id"] for number, h in households.items()}
        for item in items:
            old = stored.get(item.digest)
            if item.node_id is None:
                hh = households.get(item.household)
                if hh is not None and (old is None or old["household_id"] != hh["id"]):
                    item.node_id = hh["node_id"]  # joins a household: lives in its cell
                elif old is not None and item.household and hh is None:
                    item.node_id = old["node_id"]  # heads a new household from where they live
        self.create_households(items, household_ids, houses, now, created)
        fresh, changed, history, memberships = [], [], [], []
        open_groups = self.open_groups([old["id"] for old in stored.values()], items)
        for item in items:
            old = stored.get(item.digest)
            values = dict(item.values)
            if item.household:
                values["household_id"] = household_ids[item.household]
                values["relation"] = item.relation
            elif item.relation is not None and (old is None or old["household_id"] is None):
                values["relation"] = item.relation
            if item.house_code:
                values["house_id"] = houses[item.house_code][0]
            if item.node_id is not None:
                values["node_id"] = item.node_id
            elif old is None:
                values["node_id"] = self.new_household_cells[item.household]
            if old is None:
                fresh.append((item, values))
                continue
            diff = self.changes(old, values)
            if item.phone is not None and crypto.digest(item.phone, field=self.phone_label) != old["phone_digest"]:
                values.update(_phone_columns("resident", item.phone))
                diff += ["phone_sealed", "phone_digest", "phone_masked"]
            new_groups = [g for g in item.groups if (old["id"], g) not in open_groups]
            memberships += [(old["id"], g) for g in new_groups]
            if not diff:
                outcomes["updated" if new_groups else "unchanged"] += 1
                continue
            record = self.bump(old, values, diff, now)
            changed.append(record)
            action = HistoryAction.STATE if "state" in diff else HistoryAction.UPDATE
            history.append((record, action, self.field_names(Resident, diff)))
            outcomes["updated"] += 1
        records = []
        for (item, values), pk in zip(fresh, _allocate_ids(Resident, len(fresh)), strict=True):
            phone = _phone_columns("resident", item.phone) if item.phone else {
                "phone_sealed": "", "phone_digest": "", "phone_masked": ""}
            record = self.new_record({
                "id": pk, "name": "", "id_sealed": crypto.seal(item.number, field=self.id_label),
                "id_digest": item.digest, "id_masked": mask_id_number(item.number), "gender": item.gender,
                "birth_date": item.birth_date, **phone, "household_id": None, "relation": "", "house_id": None,
                "registered_here": True, "living_here": True, "registered_address": "", "actual_address": "",
                "moved_in_date": None, "moved_out_date": None, **values}, now)
            records.append(record)
            history.append((record, HistoryAction.CREATE, []))
            memberships += [(pk, g) for g in dict.fromkeys(item.groups)]
        self.table.insert(records)
        self.table.update(changed)
        self.history(self.table, "resident", history, now)
        if memberships:
            GroupMembership.objects.bulk_create([GroupMembership(resident_id=r, group_id=g, start_date=self.today)
                                                 for r, g in memberships])
        outcomes["created"] += len(records)
        created["resident"] += len(records)
        created["membership"] += len(memberships)
        return outcomes, created

    def create_households(self, items: list[_ResidentItem], household_ids: dict[str, int],
                          houses: dict[str, tuple[int, int, str]], now: dt.datetime, created: Counter) -> None:
        """The households the rows name that are not stored: in the cell (and house) of their first row."""
        self.new_household_cells = {}
        first: dict[str, _ResidentItem] = {}
        for item in items:
            if item.household and item.household not in household_ids:
                first.setdefault(item.household, item)
        records = []
        for (number, item), pk in zip(first.items(), _allocate_ids(Household, len(first)), strict=True):
            house = houses.get(item.house_code)
            records.append(self.new_record({
                "id": pk, "node_id": item.node_id, "number": number, "house_id": house[0] if house else None,
                "address": item.household_address or (house[2] if house else ""),
                "kind": Household.Kind.FAMILY.value}, now))
            household_ids[number] = pk
            self.new_household_cells[number] = item.node_id
        self.households.insert(records)
        self.history(self.households, "household", [(r, HistoryAction.CREATE, []) for r in records], now)
        created["household"] += len(records)

    def open_groups(self, resident_ids: list[int], items: list[_ResidentItem]) -> set[tuple[int, int]]:
        if not resident_ids or not any(item.groups for item in items):
            return set()
        return set(GroupMembership.objects.filter(resident_id__in=resident_ids, end_date__isnull=True)
                   .values_list("resident_id", "group_id"))


# -------------------------------------------------------------- memberships, party members, volunteers

class _LinkImport(_Import):
    """Rows that attach something to a stored resident, found by ID number."""

    def resident_ids(self, rows: list[_Row]) -> dict[int, tuple[int, int, str]]:
        """row number → (resident id, node id, state) for the rows whose ID number is valid and stored."""
        label = seal_field("resident", "id_number")
        digests: dict[int, str] = {}
        for row in rows:
            if row.given("id_number"):
                info = row.cleaned("id_number", id_number_clean)
                if info is not None:
                    digests[row.number] = crypto.digest(info.number, field=label)
        wanted = list(set(digests.values()))
        found = {d: (pk, node_id, state) for pk, d, node_id, state in Resident.objects.filter(
            scheme=self.scheme, id_digest__in=wanted).order_by().values_list("id", "id_digest", "node_id", "state")}
        result = {}
        for row in rows:
            digest = digests.get(row.number)
            if digest is None:
                continue
            if digest not in found or not self.cells.in_scope(found[digest][1]):
                row.fail("id_number", _("no resident with this ID number is stored in your territory; import the "
                                        "residents first"))
            else:
                result[row.number] = found[digest]
        return result

    def start(self, row: _Row) -> dt.date | None:
        """The start date given (None: today for a new record, left as stored otherwise)."""
        return row.date("start_date")


class _MembershipImport(_LinkImport):
    record_type = "membership"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.groups = _ResidentImport.group_lookup()

    def run_chunk(self, rows: list[_Row]) -> None:
        for row in rows:
            self.required(row)
        residents = self.resident_ids(rows)
        items = []
        for row in rows:
            group = None
            if row.given("group"):
                name = as_text(row.data["group"])
                group = self.groups.get(name) or self.groups.get(name.lower())
                if group is None:
                    row.fail("group", _("unknown special group %(g)s") % {"g": name})
            start = self.start(row)
            attributes = {}
            if group is not None:
                labels = {}
                for spec in group.fields:
                    for label in (spec["key"], spec.get("label_zh"), spec.get("label_en")):
                        if label:
                            labels[label] = spec["key"]
                for name, value in row.data.items():
                    if name in labels and as_text(value):
                        attributes[labels[name]] = value if isinstance(value, bool | int) else as_text(value)
                try:
                    attributes = group_attributes_clean(group, attributes)
                except ValidationError as exc:
                    for key, messages in exc.message_dict.items():
                        row.fail(key, messages[0])
            if row.number in residents and group is not None:
                self.once(row, (residents[row.number][0], group.pk), "id_number")
            if row.errors:
                self.reject(row)
                continue
            pk, _node, state = residents[row.number]
            if state != RecordState.ACTIVE:
                row.fail("id_number", _("the resident is not active"))
                self.reject(row)
                continue
            items.append((row, pk, group, start, attributes))
        self.write([item[0] for item in items], lambda: self.apply(items))

    def apply(self, items) -> tuple[Counter, Counter]:
        outcomes, created = Counter(), Counter()
        current = {(m.resident_id, m.group_id): m for m in GroupMembership.objects.filter(
            resident_id__in=[pk for _r, pk, _g, _s, _a in items], end_date__isnull=True)}
        fresh, changed = [], []
        for _row, pk, group, start, attributes in items:
            membership = current.get((pk, group.pk))
            if membership is None:
                fresh.append(GroupMembership(resident_id=pk, group=group, start_date=start or self.today,
                                             attributes=attributes))
            elif membership.attributes != attributes or (start is not None and membership.start_date != start):
                membership.attributes, membership.start_date = attributes, start or membership.start_date
                changed.append(membership)
            else:
                outcomes["unchanged"] += 1
        GroupMembership.objects.bulk_create(fresh)
        GroupMembership.objects.bulk_update(changed, ["attributes", "start_date"])
        outcomes["created"] += len(fresh)
        outcomes["updated"] += len(changed)
        created["membership"] += len(fresh)
        return outcomes, created


class _PartyMemberImport(_LinkImport):
    record_type = "partymember"

    def run_chunk(self, rows: list[_Row]) -> None:
        for row in rows:
            self.required(row)
        residents = self.resident_ids(rows)
        numbers = {number for row in rows for number in LIST_SPLIT.split(as_text(row.data.get("paired_households")))
                   if number}
        households = dict(Household.objects.filter(scheme=self.scheme, number__in=numbers, state=RecordState.ACTIVE)
                          .values_list("number", "id")) if numbers else {}
        items = []
        for row in rows:
            branch = self.cell(row, "branch_cell")
            joined = row.date("joined_date")
            start = self.start(row)
            paired = []
            for number in LIST_SPLIT.split(as_text(row.data.get("paired_households"))):
                if number and number not in households:
                    row.fail("paired_households", _("no active household %(n)s") % {"n": number})
                elif number:
                    paired.append(households[number])
            if row.number in residents:
                self.once(row, residents[row.number][0], "id_number")
            if row.errors:
                self.reject(row)
                continue
            values: dict[str, Any] = {"branch_node_id": branch}
            if start is not None:
                values["start_date"] = start
            if joined is not None:
                values["joined_date"] = joined
            if row.given("work_unit"):
                values["work_unit"] = row.text("work_unit", 200)
            items.append((row, residents[row.number][0], values, list(dict.fromkeys(paired))))
        self.write([item[0] for item in items], lambda: self.apply(items))

    def apply(self, items) -> tuple[Counter, Counter]:
        outcomes, created = Counter(), Counter()
        current = {m.resident_id: m for m in PartyMember.objects.filter(resident_id__in=[i[1] for i in items])}
        fresh, changed = [], []
        for _row, pk, values, _paired in items:
            member = current.get(pk)
            if member is None:
                fresh.append(PartyMember(resident_id=pk, **{"start_date": self.today, **values}))
                continue
            diff = [name for name, value in values.items() if getattr(member, name) != value]
            for name in diff:
                setattr(member, name, values[name])
            if diff:
                changed.append(member)
        PartyMember.objects.bulk_create(fresh)
        PartyMember.objects.bulk_update(changed, ["branch_node_id", "start_date", "joined_date", "work_unit"])
        members = {m.resident_id: m for m in [*fresh, *current.values()]}
        pairs = set(HouseholdPairing.objects.filter(member__in=list(members.values()), end_date__isnull=True)
                    .values_list("member_id", "household_id"))
        pairings, paired_rows = [], set()
        for row, pk, values, paired in items:
            member = members[pk]
            for household_id in paired:
                if (member.pk, household_id) not in pairs:
                    pairings.append(HouseholdPairing(member=member, household_id=household_id,
                                                     start_date=values.get("start_date", self.today)))
                    pairs.add((member.pk, household_id))
                    paired_rows.add(row.number)
        HouseholdPairing.objects.bulk_create(pairings)
        changed_ids = {m.resident_id for m in changed}
        for row, pk, _values, _paired in items:
            if pk not in current:
                outcomes["created"] += 1
            elif pk in changed_ids or row.number in paired_rows:
                outcomes["updated"] += 1
            else:
                outcomes["unchanged"] += 1
        created["partymember"] += len(fresh)
        created["pairing"] += len(pairings)
        return outcomes, created


class _VolunteerImport(_LinkImport):
    record_type = "volunteer"

    def run_chunk(self, rows: list[_Row]) -> None:
        for row in rows:
            self.required(row)
        residents = self.resident_ids(rows)
        items = []
        for row in rows:
            node_id = self.cell(row, "cell")
            start = self.start(row)
            if row.number in residents:
                self.once(row, residents[row.number][0], "id_number")
            if row.errors:
                self.reject(row)
                continue
            pk, resident_node, _state = residents[row.number]
            values: dict[str, Any] = {}
            if node_id is not None:
                values["node_id"] = node_id
            if start is not None:
                values["start_date"] = start
            if row.given("skills"):
                values["skills"] = row.text("skills", 300)
            items.append((row, pk, resident_node, values))
        self.write([item[0] for item in items], lambda: self.apply(items))

    def apply(self, items) -> tuple[Counter, Counter]:
        outcomes, created = Counter(), Counter()
        current = {v.resident_id: v for v in Volunteer.objects.filter(resident_id__in=[i[1] for i in items])}
        fresh, changed = [], []
        for _row, pk, resident_node, values in items:
            volunteer = current.get(pk)
            if volunteer is None:
                fresh.append(Volunteer(resident_id=pk, **{"node_id": resident_node, "start_date": self.today,
                                                          **values}))
                continue
            diff = [name for name, value in values.items() if getattr(volunteer, name) != value]
            for name in diff:
                setattr(volunteer, name, values[name])
            if diff:
                changed.append(volunteer)
            else:
                outcomes["unchanged"] += 1
        Volunteer.objects.bulk_create(fresh)
        Volunteer.objects.bulk_update(changed, ["node_id", "start_date", "skills"])
        outcomes["created"] += len(fresh)
        outcomes["updated"] += len(changed)
        created["volunteer"] += len(fresh)
        return outcomes, created


_IMPORTERS: dict[str, type[_Import]] = {
    "houses": _HouseImport,
    "residents": _ResidentImport,
    "entities": _EntityImport,
    "memberships": _MembershipImport,
    "party_members": _PartyMemberImport,
    "volunteers": _VolunteerImport,
}
