"""The indexes of base records (migration people/0008): scheme and node have no single-column index of their
own, because an index of every kind leads with each and serves the look-ups by it (the deletion checks of a
scheme or a cell among them); an import writes two fewer index entries per row."""

from __future__ import annotations

import pytest
from django.db import connection

from gridgov.people.models import BaseRecord

pytestmark = pytest.mark.django_db

KINDS = [m for m in BaseRecord.__subclasses__() if not m._meta.abstract]


@pytest.mark.parametrize("model", KINDS, ids=lambda m: m.__name__)
def test_scheme_and_node_are_each_led_by_one_index_and_have_none_of_their_own(model):
    # given the indexes and unique constraints the database holds for the kind's table
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    indexed = [c["columns"] for c in found.values() if (c["index"] or c["unique"]) and c["columns"]]
    # then
    for column in ("scheme_id", "node_id"):
        assert [column] not in indexed
        assert any(columns[0] == column and len(columns) > 1 for columns in indexed), (column, indexed)
