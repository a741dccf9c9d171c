"""Spreadsheet import of residents: rows/s of the real import of a CSV file (reading, mapping, cleaning,
ID number checks, sealing, households, history) next to a raw baseline measured in the same run: the
same rows, already sealed and digested outside the timing, inserted into a plain scratch table with the
resident table's columns (executemany on SQLite, COPY on PostgreSQL), in chunks of the same size, each
committed. Then the re-import of the same file (every row unchanged).

Size: BENCH_PEOPLE_ROWS or `python -m benchmarks people --rows 100000` (default 1,000,000). Run on
SQLite, the benchmark then runs itself again on PostgreSQL when one answers at BENCH_PEOPLE_POSTGRES
(default postgres://postgres@127.0.0.1:5432/gridgov_bench; the database is dropped and created anew).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from benchmarks.harness import Report
from gridgov.people import imports
from gridgov.people.bulk import CHUNK_SIZE
from gridgov.people.models import Resident
from gridgov.privacy import crypto
from gridgov.privacy.access import seal_field
from gridgov.privacy.identifiers import id_number_check_digit
from gridgov.privacy.masking import mask_id_number, mask_phone
from gridgov.territory import services
from gridgov.territory.models import AdminRank

DEFAULT_ROWS = 1_000_000
GRIDS = 20
HEADERS = ["姓名", "公民身份号码", "联系电话", "户号", "与户主关系", "所属网格", "现住址"]
RELATIONS = ("户主", "配偶", "子女")
POSTGRES = "postgres://postgres@127.0.0.1:5432/gridgov_bench"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def _rows_wanted() -> int:
    return int(os.environ.get("BENCH_PEOPLE_ROWS", DEFAULT_ROWS))


def _territory():
    key = f"bench-people-{int(time.time())}"
    scheme = services.scheme_create(key=key, name_zh="人口导入基准", levels=[
        {"key": "district", "name_zh": "区", "admin_rank": AdminRank.COUNTY},
        {"key": "street", "name_zh": "街道", "admin_rank": AdminRank.TOWNSHIP},
        {"key": "community", "name_zh": "社区", "admin_rank": AdminRank.VILLAGE},
        {"key": "grid", "name_zh": "网格", "is_grid": True, "code_digits": 3},
    ])
    levels = {lvl.key: lvl for lvl in scheme.levels.all()}
    since = dt.date(2020, 1, 1)
    district = services.node_create(level=levels["district"], name="基准区", code="110117000000", valid_from=since)
    street = services.node_create(level=levels["street"], parent=district, name="基准街道", code="110117001000",
                                  valid_from=since)
    community = services.node_create(level=levels["community"], parent=street, name="基准社区", code="110117001001",
                                     valid_from=since)
    grids = [services.node_create(level=levels["grid"], parent=community, name=f"第{i + 1}网格", auto_code=True,
                                  valid_from=since) for i in range(GRIDS)]
    return scheme, [g.code for g in grids]


def _person(n: int) -> tuple[str, str, str]:
    """The n-th person's ID number (unique for n < 36 million), phone and name."""
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=n // 1000)
    first17 = f"110117{birth:%Y%m%d}{n % 1000:03d}"
    return first17 + id_number_check_digit(first17), f"139{n:08d}", SURNAMES[n % 20] + "某" + "甲乙丙丁"[n % 4]


def _write_csv(path: Path, n: int, cells: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        for i in range(n):
            number, phone, name = _person(i)
            household = i // 3
            writer.writerow([name, number, phone, f"B{household:07d}", RELATIONS[i % 3],
                             cells[household % len(cells)], f"基准社区{household % 500}号楼{household % 97}室"])


def _raw_baseline(n: int, cells: dict[str, int], scheme_id: int) -> tuple[float, int]:
    """Seconds spent inserting the n rows (sealed beforehand, per chunk, outside the timing)."""
    table = "bench_raw_resident"
    columns = [f.column for f in Resident._meta.concrete_fields]
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE {table} (LIKE people_resident INCLUDING DEFAULTS)")
        else:
            cursor.execute(f"CREATE TABLE {table} AS SELECT * FROM people_resident WHERE 0")
    id_label, phone_label = seal_field("resident", "id_number"), seal_field("resident", "phone")
    now = timezone.now()
    cell_ids = list(cells.values())
    spent = 0.0
    for start in range(0, n, CHUNK_SIZE):
        chunk = []
        for i in range(start, min(start + CHUNK_SIZE, n)):
            number, phone, name = _person(i)
            household = i // 3
            values = {
                "id": i + 1, "scheme_id": scheme_id, "node_id": cell_ids[household % len(cell_ids)], "lon": None,
                "lat": None, "state": "ACTIVE", "state_date": None, "state_reason": "", "attributes": "{}",
                "version": 1, "created_at": now, "updated_at": now, "created_by_id": None, "updated_by_id": None,
                "name": name, "id_sealed": crypto.seal(number, field=id_label),
                "id_digest": crypto.digest(number, field=id_label), "id_masked": mask_id_number(number),
                "gender": "M" if int(number[16]) % 2 else "F",
                "birth_date": dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
                "phone_sealed": crypto.seal(phone, field=phone_label),
                "phone_digest": crypto.digest(phone, field=phone_label), "phone_masked": mask_phone(phone),
                "household_id": None, "relation": ("HEAD", "SPOUSE", "CHILD")[i % 3], "house_id": None,
                "registered_here": True, "living_here": True, "registered_address": "",
                "actual_address": f"基准社区{household % 500}号楼{household % 97}室", "moved_in_date": None,
                "moved_out_date": None}
            chunk.append(tuple(values[c] for c in columns))
        if connection.vendor == "sqlite":
            chunk = [tuple(v.isoformat() if isinstance(v, dt.date) else v for v in row) for row in chunk]
        begin = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", chunk)
        spent += time.perf_counter() - begin
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        stored = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {table}")
    return spent, stored


def _floor_baseline(scheme_id: int) -> tuple[float, int]:
    """PostgreSQL: seconds spent writing again the rows the import wrote (its households, residents and
    history rows, read back as COPY text outside the timing) into empty copies of their tables with the
    same indexes, checks and foreign keys, in chunks of the import's size, each committed: what the
    database itself must do for the import, with no client work left. Returns (seconds, residents)."""
    from gridgov.people.models import Household, RecordHistory

    models_ = (Household, Resident, RecordHistory)
    where = {Household: f"scheme_id = {scheme_id}", Resident: f"scheme_id = {scheme_id}",
             RecordHistory: "source = 'benchmark' AND record_type IN ('resident', 'household')"}
    lines: dict[type, list[bytes]] = {}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for model in models_:
            table = model._meta.db_table
            data = bytearray()
            with raw.copy(f"COPY (SELECT * FROM {table} WHERE {where[model]} ORDER BY id) TO STDOUT") as copy:
                for block in copy:
                    data += block
            lines[model] = bytes(data).splitlines(keepends=True)
            scratch = f"bench_floor_{table}"
            cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
            cursor.execute(f"CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)")
            cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                           "AND contype = 'f'", [table])
            for (definition,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {scratch} ADD {definition}")
    residents = len(lines[Resident])
    chunks = max(1, math.ceil(residents / CHUNK_SIZE))
    spent = 0.0
    for k in range(chunks):
        parts = []
        for model in models_:
            rows = lines[model]
            share = math.ceil(len(rows) / chunks)
            parts.append((f"bench_floor_{model._meta.db_table}", b"".join(rows[k * share:(k + 1) * share])))
        begin = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for scratch, data in parts:
                if data:
                    with cursor.cursor.copy(f"COPY {scratch} FROM STDIN") as copy:
                        copy.write(data)
        spent += time.perf_counter() - begin
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM bench_floor_{Resident._meta.db_table}")
        stored = cursor.fetchone()[0]
        for model in reversed(models_):
            cursor.execute(f"DROP TABLE bench_floor_{model._meta.db_table}")
    return spent, stored


def _peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """The peak resident memory of this process (or of its ended children: the import's worker)."""
    return resource.getrusage(who).ru_maxrss / 1024


def measure(n: int) -> dict[str, float]:
    scheme, cell_codes = _territory()
    cells = dict(scheme.nodes.filter(code__in=cell_codes).values_list("code", "id"))
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent.parent / "var" / "bench") as tmp:
        path = Path(tmp) / "residents.csv"
        _write_csv(path, n, cell_codes)
        mapping = imports.mapping_suggest(HEADERS, "residents")
        start, cpu = time.perf_counter(), time.process_time()
        first = imports.file_import(scheme=scheme, kind="residents", path=path, mapping=mapping,
                                    source="benchmark")
        import_s, import_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        rss, worker_rss = _peak_rss_mb(), _peak_rss_mb(resource.RUSAGE_CHILDREN)
        assert (first.created, first.rejected_rows) == (n, 0), first.as_dict()
        start = time.perf_counter()
        again = imports.file_import(scheme=scheme, kind="residents", path=path, mapping=mapping,
                                    source="benchmark")
        reimport_s = time.perf_counter() - start
        assert again.unchanged == n, again.as_dict()
    raw_s, stored = _raw_baseline(n, cells, scheme.pk)
    assert stored == n
    floor_s = None
    if connection.vendor == "postgresql":
        floor_s, stored = _floor_baseline(scheme.pk)
        assert stored == n
    return {"rows": n, "import_rps": n / import_s, "reimport_rps": n / reimport_s, "raw_rps": n / raw_s,
            "floor_rps": n / floor_s if floor_s else None,
            "import_s": import_s, "reimport_s": reimport_s, "raw_s": raw_s, "import_cpu_s": import_cpu_s, "peak_rss_mb": rss, "worker_rss_mb": worker_rss,
            "households": first.created_by_type.get("household", 0)}


def _add(report: Report, figures: dict[str, float], vendor: str) -> None:
    n = int(figures["rows"])
    note = (f"{figures['import_s']:.1f} s ({figures.get('import_cpu_s', 0):.1f} s of the importing process's CPU) "
            f"for {n:,} rows and {int(figures['households']):,} households; "
            f"peak RSS {figures['peak_rss_mb']:,.0f} MB, its worker's {figures.get('worker_rss_mb', 0):,.0f} MB")
    report.add(f"people import {n:,} residents, {vendor}", figures["import_rps"], "rows/s",
               baseline_name=f"raw {'COPY' if vendor == 'postgresql' else 'executemany'} of sealed rows",
               baseline_value=figures["raw_rps"], note=note)
    if figures.get("floor_rps"):
        report.add(f"people import {n:,} residents against the database's own floor, {vendor}",
                   figures["import_rps"], "rows/s",
                   baseline_name="raw COPY of the import's own rows (households, residents, history) into copies "
                                 "of their tables with the same indexes and foreign keys",
                   baseline_value=figures["floor_rps"],
                   note="the part of the import's time the database needs at the least; the first baseline "
                        "writes the residents alone into a table without an index")
    report.add(f"people re-import {n:,} residents (all unchanged), {vendor}", figures["reimport_rps"], "rows/s",
               baseline_name="raw insert of sealed rows", baseline_value=figures["raw_rps"],
               note=f"{figures['reimport_s']:.1f} s")


def _postgres_run(report: Report, n: int) -> None:
    """Run this benchmark again in a child process on PostgreSQL, when one answers."""
    url = os.environ.get("BENCH_PEOPLE_POSTGRES", POSTGRES)
    try:
        import psycopg

        base, _sep, name = url.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no server, no rights: the SQLite figures stand alone
        print(f"  (PostgreSQL at {url} not usable: {type(exc).__name__}; skipped)", flush=True)
        return
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_PEOPLE_CHILD": out.name,
               "BENCH_PEOPLE_ROWS": str(n)}
        subprocess.run([sys.executable, "-m", "benchmarks", "people"], env=env, check=True,
                       cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL)
        figures = json.loads(Path(out.name).read_text())
    _add(report, figures, "postgresql")


def run(report: Report) -> None:
    n = _rows_wanted()
    figures = measure(n)
    child = os.environ.get("BENCH_PEOPLE_CHILD")
    if child:
        Path(child).write_text(json.dumps(figures))
        return
    _add(report, figures, connection.vendor)
    if connection.vendor == "sqlite":
        _postgres_run(report, n)
