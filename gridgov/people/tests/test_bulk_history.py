"""The history rows of an import built by PostgreSQL from the rows just written (`Import.history_from_rows`)
are the rows Python builds (`Import.history`): the same records, versions, actions, changed fields and
snapshots, to the text of their JSON."""

from __future__ import annotations

import copy
import re

import pytest
from django.db import connection, transaction

from gridgov.people.bulk import people_bulk_upsert
from gridgov.people.models import Building, House, Household, LegalEntity, RecordHistory, Resident
from gridgov.people.tests.factories import credit_code, id_number

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="history built by PostgreSQL")]

SEALED = re.compile(r'"[^"]*\.aes\.[^"]*"')  # a sealed value (its nonce differs from one run to the next)
SEQUENCED = (Resident, Household, House, Building, LegalEntity, RecordHistory)


def _sequences() -> dict[str, tuple[int, bool]]:
    found = {}
    with connection.cursor() as cursor:
        for model in SEQUENCED:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
            name = cursor.fetchone()[0]
            cursor.execute(f"SELECT last_value, is_called FROM {name}")  # noqa: S608 (the table's own sequence)
            found[name] = cursor.fetchone()
    return found


def _restore(sequences: dict[str, tuple[int, bool]]) -> None:
    with connection.cursor() as cursor:
        for name, (value, called) in sequences.items():
            cursor.execute("SELECT setval(%s, %s, %s)", [name, value, called])


def _history_after(start: int) -> list[tuple]:
    """Every history row after id `start`, its JSON as PostgreSQL writes it out (`at` is each run's own),
    sealed values marked as such."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, record_type, record_id, version, action, actor_id, source, changed::text, "
                       "snapshot::text FROM people_recordhistory WHERE id > %s ORDER BY id", [start])
        return [(*row[:8], SEALED.sub('"sealed"', row[8])) for row in cursor.fetchall()]


def _both_ways(imports) -> list[tuple[list[dict], list[tuple]]]:
    """`imports(history_in_sql)` run twice from the same ids, each run undone: (its reports, its history)."""
    sequences = _sequences()
    start = RecordHistory.objects.order_by("-id").values_list("id", flat=True).first() or 0
    runs = []
    for in_sql in (False, True):
        _restore(sequences)  # the second run takes the same ids as the first
        with transaction.atomic():
            reports = imports(in_sql)
            runs.append(([r.as_dict() for r in reports], _history_after(start)))
            transaction.set_rollback(True)
    return runs


def _family(number: str, *, lon: float | None = None) -> list[dict]:
    head = {"id_number": id_number(), "name": "张三", "phone": "13800138000", "household_number": number,
            "relation": "户主", "household_address": "东街1号", "moved_in_date": "2020-03-04",
            "registered_here": "流动"}
    if lon is not None:
        head.update(lon=lon, lat=40.05)
    else:
        head["cell"] = "一网格"
    return [head, {"id_number": id_number(male=False), "name": "李四", "household_number": number,
                   "relation": "妻", "living_here": "否", "actual_address": 'a "quoted" \\ address'}]


def test_residents_and_households_get_the_same_history_from_postgresql_as_from_python(scheme, tree):
    # given families created then changed: a name, a phone, a move-out, coordinates whole and not
    families = _family("0001"), _family("0002", lon=116.0), _family("0003", lon=116.07)

    def imports(in_sql: bool):
        first, second, third = copy.deepcopy(families)
        created = people_bulk_upsert(scheme=scheme, kind="residents", rows=first + second + third,
                                     source="import job #1", workers=False, history_in_sql=in_sql)
        first[1]["name"] = "李五"
        second[0]["phone"] = "13900139000"
        third[1].update(state="迁出", state_date="2024-05-06")
        changed = people_bulk_upsert(scheme=scheme, kind="residents", rows=first + second + third,
                                     source="import job #2", workers=False, history_in_sql=in_sql)
        return [created, changed]

    # when the same imports run with history built in Python, then by PostgreSQL
    (python_reports, python_rows), (sql_reports, sql_rows) = _both_ways(imports)
    # then the reports and every history row are the same, to the text of their JSON
    assert sql_reports == python_reports
    assert sql_rows == python_rows
    kinds = {(row[1], row[4]) for row in sql_rows}
    assert kinds == {("resident", "CREATE"), ("household", "CREATE"), ("resident", "UPDATE"), ("resident", "STATE")}
    assert any('"lon": 116.0,' in row[8] for row in sql_rows)  # a whole float keeps its ".0", as Python writes it


def test_houses_buildings_and_entities_get_the_same_history_from_postgresql_as_from_python(scheme, tree):
    # given houses (whole and fractional areas, coordinates), their building and an entity, then changed
    given_houses = [{"house_code": "F-1-101", "address": "幸福小区1号楼101", "cell": "一网格", "building_code": "B1",
                     "building_name": "1号楼", "floor": "1", "room": "101", "occupancy": "出租", "area_m2": "88"},
                    {"house_code": "F-1-102", "address": "幸福小区1号楼102", "building_code": "B1", "lon": "116.07",
                     "lat": "40.05", "area_m2": "0.00001"}]
    code = credit_code()
    given_entities = [{"credit_code": code, "name": "平谷桃业公司", "phone": "010-69961234", "employees": "12",
                       "dedicated_cell": tree["g2"].code}]

    def imports(in_sql: bool):
        houses, entities = copy.deepcopy(given_houses), copy.deepcopy(given_entities)
        reports = [people_bulk_upsert(scheme=scheme, kind=kind, rows=rows, source="import job #3",
                                      workers=False, history_in_sql=in_sql)
                   for kind, rows in (("houses", houses), ("entities", entities))]
        houses[0].update(occupancy="空置", area_m2="90.25")
        entities[0].update(employees="13", phone="010-69961235")
        reports += [people_bulk_upsert(scheme=scheme, kind=kind, rows=rows, source="import job #4",
                                       workers=False, history_in_sql=in_sql)
                    for kind, rows in (("houses", houses), ("entities", entities))]
        # an area Python's JSON cannot write: the database refuses the chunk either way
        reports.append(people_bulk_upsert(scheme=scheme, kind="houses", source="import job #5", workers=False,
                                          history_in_sql=in_sql,
                                          rows=[{"house_code": "F-9", "address": "x", "cell": "一网格",
                                                 "area_m2": "nan"}]))
        return reports

    # when
    (python_reports, python_rows), (sql_reports, sql_rows) = _both_ways(imports)
    # then
    assert sql_reports == python_reports
    assert sql_reports[-1]["rejected_rows"] == 1
    assert sql_rows == python_rows
    kinds = {(row[1], row[4]) for row in sql_rows}
    assert kinds == {("house", "CREATE"), ("building", "CREATE"), ("legalentity", "CREATE"), ("house", "UPDATE"),
                     ("legalentity", "UPDATE")}
