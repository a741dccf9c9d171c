"""What a grid map import or check found, row by row, and its rendering as Markdown (the command's output)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class RowStatus(StrEnum):
    IMPORTED = "imported"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


class ImportMode(StrEnum):
    PER_ROW = "per_row"
    ALL_OR_NOTHING = "all_or_nothing"



@dataclass
class RowResult:
    row: int
    status: RowStatus | None = None
    code: str = ""
    name: str = ""
    level: str = ""
    parent_code: str = ""
    node_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    written: bool = False

    def reject(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(str(message))
        self.status = RowStatus.REJECTED

    def reject_with(self, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            for field_name, messages in exc.message_dict.items():
                for message in messages:
                    # the file names the parent by its code: report it under that property
                    self.reject("parent_code" if field_name in ("parent", "new_parent") else field_name, message)
        else:
            for message in exc.messages:
                self.reject("__all__", message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row, "status": str(self.status) if self.status else None, "written": self.written,
            "code": self.code, "name": self.name, "level": self.level, "parent_code": self.parent_code,
            "node_id": self.node_id, "changed": list(self.changed), "errors": dict(self.errors),
            "warnings": list(self.warnings),
        }


@dataclass
class GridMapReport:
    """What an import did (or would do) row by row, and what is wrong with the polygons.

    `committed` is True when the import's writes were kept (not a dry run, not rolled back)."""

    scheme: str
    kind: str = "import"  # "import" or "validate"
    source: str = ""
    mode: str = ImportMode.PER_ROW
    dry_run: bool = False
    committed: bool = False
    rows: list[RowResult] = field(default_factory=list)
    invalid_polygons: list[dict[str, Any]] = field(default_factory=list)
    outside_parent: list[dict[str, Any]] = field(default_factory=list)
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = {str(s): 0 for s in RowStatus}
        for r in self.rows:
            if r.status:
                counts[str(r.status)] += 1
        return counts

    @property
    def has_rejections(self) -> bool:
        return any(r.status == RowStatus.REJECTED for r in self.rows)

    @property
    def is_clean(self) -> bool:
        """No rejected row and no polygon problem at all (warnings included)."""
        return not (self.has_rejections or self.invalid_polygons or self.outside_parent or self.overlaps
                    or self.gaps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "scheme": self.scheme, "source": self.source, "mode": str(self.mode),
            "dry_run": self.dry_run, "committed": self.committed, "counts": self.counts,
            "rows": [r.to_dict() for r in self.rows],
            "invalid_polygons": self.invalid_polygons, "outside_parent": self.outside_parent,
            "overlaps": self.overlaps, "gaps": self.gaps,
        }

    def to_markdown(self) -> str:
        return _render_markdown(self)

    def __str__(self) -> str:
        return self.to_markdown()


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ") or "–"


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _render_markdown(report: GridMapReport) -> str:
    lines: list[str] = []
    if report.kind == "validate":
        lines += [_("# Grid map check — scheme %(scheme)s") % {"scheme": report.scheme}, ""]
        if report.is_clean:
            lines += [_("No problems found."), ""]
    else:
        counts = report.counts
        lines += [_("# Grid map import — %(source)s → scheme %(scheme)s")
                  % {"source": report.source or _("(upload)"), "scheme": report.scheme}, ""]
        mode = _("all or nothing") if report.mode == ImportMode.ALL_OR_NOTHING else _("per row")
        if report.committed:
            outcome = _("written")
        elif report.dry_run:
            outcome = _("nothing written (dry run)")
        elif report.has_rejections:
            outcome = _("nothing written: %(n)d rows rejected and the mode is all or nothing") % {
                "n": counts[RowStatus.REJECTED]}
        else:
            outcome = _("nothing written")
        lines += [
            _("- Mode: %(mode)s%(dry)s") % {"mode": mode, "dry": _(", dry run") if report.dry_run else ""},
            _("- Result: %(outcome)s") % {"outcome": outcome},
            _("- Rows: %(total)d — imported %(imported)d, updated %(updated)d, unchanged %(unchanged)d, "
              "rejected %(rejected)d") % {"total": len(report.rows), **counts},
            "",
        ]
        rejected = [r for r in report.rows if r.status == RowStatus.REJECTED]
        if rejected:
            lines += [_("## Rejected rows"), ""]
            lines += _table([_("Row"), _("Code"), _("Name"), _("Field"), _("Reason")],
                            [[r.row, r.code, r.name, f, m] for r in rejected for f, ms in r.errors.items() for m in ms])
        lines += [_("## Rows"), ""]
        lines += _table([_("Row"), _("Status"), _("Level"), _("Code"), _("Name"), _("Parent"), _("Notes")],
                        [[r.row, r.status, r.level, r.code, r.name, r.parent_code,
                          "; ".join([*([_("changed: %(f)s") % {"f": ", ".join(r.changed)}] if r.changed else []),
                                     *r.warnings])] for r in report.rows])
    if report.invalid_polygons:
        lines += [_("## Invalid polygons"), ""]
        lines += _table([_("Row"), _("Code"), _("Problem"), _("Place (lon, lat)")],
                        [[p.get("row"), p.get("code"), p.get("reason"),
                          ", ".join(f"{c:.7f}" for c in p["location"]) if p.get("location") else None]
                         for p in report.invalid_polygons])
    if report.outside_parent:
        lines += [_("## Sticking out of the parent"), ""]
        lines += _table([_("Row"), _("Code"), _("Name"), _("Parent"), _("Area outside (m²)")],
                        [[p.get("row"), p["code"], p["name"], f"{p['parent_code']} {p['parent_name']}",
                          f"{p['area_m2']:.1f}"] for p in report.outside_parent])
    if report.overlaps:
        lines += [_("## Overlaps between siblings (warnings)"), ""]
        lines += _table([_("Parent"), _("Cell"), _("Cell"), _("Rows"), _("Overlap (m²)")],
                        [[o["parent_code"], f"{o['a']['code']} {o['a']['name']}", f"{o['b']['code']} {o['b']['name']}",
                          ", ".join(str(r) for r in o["rows"]), f"{o['area_m2']:.1f}"] for o in report.overlaps])
    if report.gaps:
        lines += [_("## Gaps inside a parent (warnings)"), ""]
        lines += _table([_("Parent"), _("Level"), _("Gap (m²)"), _("Bounding box (lon/lat)")],
                        [[f"{g['parent_code']} {g['parent_name']}", g["level"], f"{g['area_m2']:.1f}",
                          ", ".join(f"{c:.6f}" for c in g["bbox"])] for g in report.gaps])
    return "\n".join(lines).rstrip() + "\n"
