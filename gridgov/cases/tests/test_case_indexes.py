"""The indexes of cases and stages (migration cases/0013): a reference most cases leave empty is indexed only
where it is set, and a stage has no case index of its own. Each change of a case's state or colour writes an
entry in every index that holds the row, so these hold fewer rows and cost the watch and each transition less;
a look-up by a reference names a value, which the partial index still serves."""

from __future__ import annotations

import pytest
from django.db import connection

from gridgov.cases.models import PARTIAL_REFERENCES, Case, CaseStage

pytestmark = pytest.mark.django_db


def _index_sql(table: str) -> dict[str, str]:
    """name → the definition of each index of `table`, as the database holds it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        else:
            cursor.execute("SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = %s",
                           [table])
        return dict(cursor.fetchall())


def _indexed(table: str) -> list[list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return [c["columns"] for c in found.values() if (c["index"] or c["unique"]) and c["columns"]]


@pytest.mark.parametrize("name", PARTIAL_REFERENCES)
def test_a_rarely_set_reference_has_one_index_holding_only_the_cases_that_have_it(name):
    column = Case._meta.get_field(name).column
    # given the indexes the database holds for the cases' table
    indexes = _index_sql(Case._meta.db_table)
    # then the one index of the column is partial: it leaves out the cases without the reference
    definition = indexes[f"case_{name}_idx"]
    assert f"WHERE {column} IS NOT NULL" in "".join(c for c in definition if c not in '()"'), definition
    assert _indexed(Case._meta.db_table).count([column]) == 1


def test_a_stage_is_found_by_its_case_through_its_unique_order():
    indexed = _indexed(CaseStage._meta.db_table)
    assert ["case_id"] not in indexed
    assert ["case_id", "order"] in indexed


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plans of PostgreSQL")
@pytest.mark.parametrize("name", PARTIAL_REFERENCES)
def test_a_look_up_by_a_reference_can_use_its_partial_index(name):
    column = connection.ops.quote_name(Case._meta.get_field(name).column)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN SELECT id FROM cases_case WHERE {column} = %s", [1])  # noqa: S608 (a column name)
        plan = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = on")
    assert f"case_{name}_idx" in plan, plan
