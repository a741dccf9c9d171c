"""Importing China's administrative divisions: the whole country (~665k divisions) in one call of
`divisions_import`, next to raw baselines measured in the same run on the same database:

- reading the shipped data (decompress + parse), next to decompressing it alone;
- the import, next to a plain executemany INSERT of the same node rows into a scratch table with the
  same columns (no index, no constraint);
- the import, next to a plain executemany INSERT of every row it wrote (nodes, issued codes, versions)
  into the real tables again, under another scheme with other ids: the same indexes and constraints, so
  the ratio is the price of reading, validating and preparing the rows;
- a second, idempotent run (nothing to write: every division is looked up and compared).
"""

from __future__ import annotations

import lzma
import os
import resource
import time

from django.db import connection, transaction

from benchmarks.harness import Report
from gridgov.territory import services
from gridgov.territory.divisions import DATA_DIR, FILES, NATIONAL_LEVELS, division_rows, divisions_import
from gridgov.territory.models import IssuedCode, Node, NodeVersion

NODES = Node._meta.db_table
ISSUED = IssuedCode._meta.db_table
VERSIONS = NodeVersion._meta.db_table


def _select(table: str, where: str, params: list) -> tuple[list[str], list[tuple]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE {where}", params)
        return [c[0] for c in cursor.description], cursor.fetchall()


def _executemany(table: str, columns: list[str], rows: list[tuple]) -> None:
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "
                           f"VALUES ({', '.join(['%s'] * len(columns))})", rows)


def _delete(scheme_id: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {VERSIONS} WHERE node_id IN (SELECT id FROM {NODES} WHERE scheme_id = %s)",
                       [scheme_id])
        cursor.execute(f"DELETE FROM {ISSUED} WHERE scheme_id = %s", [scheme_id])
        cursor.execute(f"DELETE FROM {NODES} WHERE scheme_id = %s", [scheme_id])


def _rekeyed(table: str, columns: list[str], rows: list[tuple], *, scheme_id: int, levels: dict[int, int],
             offset: int):
    """The same rows under another scheme and its `levels` (old id → new id), every node id shifted by
    `offset` (paths too). Issued codes and versions leave their own ids to the database, as the import does."""
    keep = [i for i, name in enumerate(columns) if table == NODES or name != "id"]
    node_ids = {"id", "parent_id"} if table == NODES else {"node_id", "parent_id"}
    out = []
    for row in rows:
        values = []
        for i in keep:
            name, value = columns[i], row[i]
            if name == "scheme_id":
                value = scheme_id
            elif name == "level_id":
                value = levels[value]
            elif name in node_ids and value is not None:
                value += offset
            elif name == "path" and table == NODES:
                value = "/" + "/".join(str(int(part) + offset) for part in value.strip("/").split("/")) + "/"
            values.append(value)
        out.append(tuple(values))
    return table, [columns[i] for i in keep], out


def run(report: Report) -> None:
    # reading the shipped data
    start = time.perf_counter()
    for filename, _parent in FILES.values():
        with lzma.open(DATA_DIR / filename, "rb") as raw:
            while raw.read(1 << 20):
                pass
    decompress = time.perf_counter() - start
    start = time.perf_counter()
    total = sum(1 for _row in division_rows(None))
    read = time.perf_counter() - start
    report.add(f"read shipped divisions, {total:,} rows", read, "s", baseline_name="xz decompression alone",
               baseline_value=decompress, note="decompress + parse the CSV into DivisionRow")

    # the whole country, into a scheme of its own so that a kept database (BENCH_DATABASE_URL) measures a
    # first import every time
    scheme = services.scheme_create(key=f"bench-divisions-{int(time.time())}", name_zh="全国行政区划（基准）",
                                    levels=NATIONAL_LEVELS)
    start = time.perf_counter()
    result = divisions_import(scheme=scheme)
    first = time.perf_counter() - start
    created = sum(result.created.values())
    assert created == total - sum(result.merged.values()), result
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report.add(f"import whole country ({connection.vendor}), wall time", first, "s",
               note=f"{created:,} nodes; peak RSS of the process {peak_mb:,.0f} MB")

    # idempotent second run
    start = time.perf_counter()
    again = divisions_import(scheme=scheme)
    second = time.perf_counter() - start
    assert not again.created and not again.updated, again
    report.add("import whole country again (nothing to write)", second, "s", baseline_name="first import",
               baseline_value=first)

    # raw baselines: the rows the import wrote
    written = [(NODES, *_select(NODES, "scheme_id = %s", [scheme.pk])),
               (ISSUED, *_select(ISSUED, "scheme_id = %s", [scheme.pk])),
               (VERSIONS, *_select(VERSIONS, f"node_id IN (SELECT id FROM {NODES} WHERE scheme_id = %s)",
                                   [scheme.pk]))]
    node_columns, node_rows = written[0][1:]
    scratch = "bench_scratch_node"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
        cursor.execute(f"CREATE TABLE {scratch} AS SELECT * FROM {NODES} WHERE 1 = 0")
    start = time.perf_counter()
    with transaction.atomic():
        _executemany(scratch, node_columns, node_rows)
    raw_nodes = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {scratch}")
    report.add("import whole country, node rows", created / first, "rows/s",
               baseline_name="raw executemany of the node rows into a scratch table without indexes",
               baseline_value=len(node_rows) / raw_nodes, note=f"{raw_nodes:.1f} s raw")

    other = services.scheme_create(key=f"{scheme.key}-raw", name_zh="全国行政区划（基准，原始插入）",
                                   levels=NATIONAL_LEVELS)
    offset = max(row[node_columns.index("id")] for row in node_rows)
    levels = {old: new for (old, new) in zip(scheme.levels.order_by("depth").values_list("pk", flat=True),
                                             other.levels.order_by("depth").values_list("pk", flat=True), strict=True)}
    rekeyed = [_rekeyed(*batch, scheme_id=other.pk, levels=levels, offset=offset) for batch in written]
    start = time.perf_counter()
    with transaction.atomic():
        for table, columns, rows in rekeyed:
            _executemany(table, columns, rows)
    raw_all = time.perf_counter() - start
    rows_written = sum(len(rows) for _t, _c, rows in written)
    report.add("import whole country, all rows written", rows_written / first, "rows/s",
               baseline_name="raw executemany of the same nodes + issued codes + versions into the real tables",
               baseline_value=rows_written / raw_all, note=f"{rows_written:,} rows; {raw_all:.1f} s raw")

    if os.environ.get("BENCH_DATABASE_URL"):  # a kept database: leave it as it was (the SQLite file is thrown away)
        _delete(scheme.pk)
        _delete(other.pk)
        scheme.delete()
        other.delete()
