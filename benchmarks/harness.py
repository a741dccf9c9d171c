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


def run_here_then_on_postgres(report: Report, *, module: str, measure: Callable[[Callable[[dict], None]], str],
                              postgres_url: str, env: dict[str, str] | None = None) -> None:
    """The shape of a benchmark that reports both databases: `measure(emit)` runs on the database of this
    process and returns its vendor; after a SQLite run the same module runs again in a child process on a
    freshly created PostgreSQL database (`postgres_url`), whose figures join the report. Without a usable
    server the SQLite figures stand alone."""
    import json
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    child_key = f"BENCH_{module.upper()}_CHILD"
    child = os.environ.get(child_key)
    if child:
        figures: list[dict] = []
        measure(figures.append)
        Path(child).write_text(json.dumps(figures))
        return
    if measure(lambda fig: report.add(**fig)) != "sqlite":
        return
    try:
        import psycopg

        base, _sep, name = postgres_url.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no server, no rights: the SQLite figures stand alone
        print(f"  (PostgreSQL at {postgres_url} not usable: {type(exc).__name__}; skipped)", flush=True)
        return
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        child_env = {**os.environ, **(env or {}), "BENCH_DATABASE_URL": postgres_url, child_key: out.name}
        subprocess.run([sys.executable, "-m", "benchmarks", module], env=child_env, check=True,
                       cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL)
        figures = json.loads(Path(out.name).read_text())
    for fig in figures:
        report.add(**fig)
