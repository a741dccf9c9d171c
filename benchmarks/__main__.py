"""`make bench`: run every benchmarks/bench_*.py module's `run(report)` and print one table.

Uses a throw-away SQLite database under var/bench/ unless BENCH_DATABASE_URL is set (e.g. PostgreSQL).
Select modules with `python -m benchmarks locate divisions`; `--rows N` sets the size of the people
import benchmark (BENCH_PEOPLE_ROWS) and of the cases' time-limit watch (BENCH_CASES_ROWS).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import tempfile
from pathlib import Path


def main(argv: list[str]) -> int:
    argv = list(argv)
    if "--rows" in argv:
        at = argv.index("--rows")
        os.environ["BENCH_PEOPLE_ROWS"] = os.environ["BENCH_CASES_ROWS"] = argv[at + 1]
        del argv[at:at + 2]
    root = Path(__file__).resolve().parent.parent
    bench_dir = root / "var" / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    if os.environ.get("BENCH_DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    else:
        fd, path = tempfile.mkstemp(prefix="bench-", suffix=".sqlite3", dir=bench_dir)
        os.close(fd)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from benchmarks.harness import Report

    report = Report()
    wanted = set(argv)
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    for name in names:
        short = name.removeprefix("bench_")
        if wanted and short not in wanted:
            continue
        print(f"== {short}", flush=True)
        importlib.import_module(f"benchmarks.{name}").run(report)
    print()
    print(report.table())
    if not os.environ.get("BENCH_DATABASE_URL"):
        database = os.environ["DATABASE_URL"].removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
