"""The raw statements of the bulk path (`bulk.sql`): look-ups by a list of keys and ids taken ahead."""

from __future__ import annotations

import pytest
from django.db import connection

from gridgov.people.bulk.sql import Table, allocate_ids, among, array_literal
from gridgov.people.models import Household, Resident
from gridgov.people.tests.factories import make_household

pytestmark = pytest.mark.django_db

# household numbers are what a file gives: quotes, backslashes, commas, braces, spaces, NULL as text
AWKWARD = ['a"b', "c\\d", "e,f", "{g}", "h i", "NULL", "户号'1", '\\"', "j\\\\"]


def test_a_look_up_by_text_keys_finds_exactly_the_keys_given(scheme, tree):
    # given a household under each awkward number, and one more
    stored = {number: make_household(scheme, tree["g1"], number=number)[0].pk for number in [*AWKWARD, "other"]}
    table = Table(Household)
    # when they are looked up by the awkward numbers (and one that is not stored)
    where, params = among("number", [*AWKWARD, "", "missing"])
    found = {r["number"]: r["id"] for r in table.select(f"scheme_id = %s AND {where}", [scheme.pk, *params])}
    # then each awkward one is found, the other is not
    assert found == {number: stored[number] for number in AWKWARD}


def test_a_look_up_by_ids_finds_exactly_the_ids_given(scheme, tree):
    # given two households
    (_first, members), (_second, others) = (make_household(scheme, tree["g1"], members=1) for _ in range(2))
    ids = [r.pk for r in members]
    # when residents are looked up by the ids of the first household's members (and one id not stored)
    where, params = among("id", [*ids, 10**12])
    found = [r["id"] for r in Table(Resident).select(where, params)]
    # then
    assert sorted(found) == sorted(ids) and not {r.pk for r in others} & set(found)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's array parameters")
def test_text_and_whole_numbers_go_as_one_array_literal():
    # text and ids go as one string; anything else as psycopg's list
    assert array_literal(['a"b', "c\\d"]) == ('{"a\\"b","c\\\\d"}', "text[]")
    assert array_literal([1, 22]) == ("{1,22}", "bigint[]")
    assert array_literal([1, "a"]) is None
    assert among("id", [1.5]) == ("id = ANY(%s)", [[1.5]])


def test_ids_taken_ahead_are_new_and_distinct(scheme, tree):
    # given a stored household
    household, _people = make_household(scheme, tree["g1"])
    # when ids are taken for three more, twice
    first, second = allocate_ids(Household, 3), allocate_ids(Household, 3)
    # then they follow the stored one, distinct (on SQLite the same until rows are written with them)
    assert len(set(first)) == 3 and min(first + second) > household.pk
    if connection.vendor == "postgresql":
        assert len(set(first + second)) == 6
