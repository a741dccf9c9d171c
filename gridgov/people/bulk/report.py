"""What an import tells its user: counts and the rejected rows (row, column header, reason)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gridgov.people.bulk.kinds import SUMMARY_ERRORS


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
