"""A tiny harness for `make bench`: each figure is printed next to a raw baseline measured in the
same run, as a ratio, so the numbers mean something on any machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, *, baseline_name: str = "", baseline_value: float | None = None,
            note: str = "") -> Figure:
        fig = Figure(name, value, unit, baseline_name, baseline_value, note)
        self.figures.append(fig)
        ratio = f"  ratio {fig.ratio:.3f}" if fig.ratio is not None else ""
        base = f"  | baseline {baseline_name}: {baseline_value:,.1f} {unit}" if baseline_value is not None else ""
        print(f"  {name}: {value:,.1f} {unit}{base}{ratio}{('  (' + note + ')') if note else ''}", flush=True)
        return fig

    def table(self) -> str:
        lines = ["| figure | value | baseline | baseline value | ratio |", "|---|---|---|---|---|"]
        for f in self.figures:
            base = f"{f.baseline_value:,.1f} {f.unit}" if f.baseline_value is not None else "-"
            ratio = f"{f.ratio:.3f}" if f.ratio is not None else "-"
            lines.append(f"| {f.name} | {f.value:,.1f} {f.unit} | {f.baseline_name or '-'} | {base} | {ratio} |")
        return "\n".join(lines)


def timed(fn: Callable[[], object], *, repeat: int = 1) -> float:
    """Best wall time of `repeat` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
