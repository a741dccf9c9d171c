"""The statements of the residents' import (issue 13, item 7): a fixed number per import and per chunk,
whatever the number of rows in a chunk."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gridgov.people.bulk import people_bulk_upsert
from gridgov.people.tests.factories import id_number

pytestmark = pytest.mark.django_db

def _person(n: int, *, male: bool = True) -> str:
    """The n-th ID number of these tests (its own sequence: the factories' one stays where it was)."""
    return id_number(seq=n, birth=dt.date(1950, 1, 1), male=male)


def _rows(families: int, *, start: int = 0) -> list[dict]:
    """Families of three (head, spouse, child) in 一网格, with phones."""
    rows = []
    for f in range(start, start + families):
        number = f"H{f:05d}"
        rows += [
            {"id_number": _person(3 * f), "name": f"张{f}", "phone": f"139{f:08d}", "household_number": number,
             "relation": "户主", "cell": "一网格", "registered_here": "户籍"},
            {"id_number": _person(3 * f + 1, male=False), "name": f"李{f}", "household_number": number,
             "relation": "妻"},
            {"id_number": _person(3 * f + 2), "name": f"张小{f}", "phone": "", "household_number": number,
             "relation": "子"},
        ]
    return rows


def _statements(scheme, rows, *, chunk_size: int = 2000) -> int:
    with CaptureQueriesContext(connection) as queries:
        report = people_bulk_upsert(scheme=scheme, kind="residents", rows=rows, chunk_size=chunk_size)
    assert report.rejected_rows == 0 and report.created == len(rows)
    return len(queries)


# statements of an import (the cells and the special groups, read once) and of each chunk of new residents
# with new households (ids, SELECTs of the stored rows, inserts of residents, households and their history).
# On PostgreSQL the COPYs of residents and households go around the captured cursor and are not counted; the
# history of both is one INSERT … SELECT (it was two uncounted COPYs: one statement fewer in fact, one more here)
PER_IMPORT = 2
PER_CHUNK = {"sqlite": 12, "postgresql": 7}


def test_the_statements_of_an_import_do_not_grow_with_its_rows(scheme, tree):
    # given / when 99 and 999 new residents in one chunk, and 999 in chunks of 111
    few = _statements(scheme, _rows(33))
    many = _statements(scheme, _rows(333, start=100))
    chunked = _statements(scheme, _rows(333, start=1000), chunk_size=111)
    # then
    assert few == many == PER_IMPORT + PER_CHUNK[connection.vendor]
    assert chunked == PER_IMPORT + 9 * PER_CHUNK[connection.vendor]
