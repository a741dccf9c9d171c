"""Fixtures shared by every app's tests."""

import pytest

from gridgov.territory.tests.factories import make_scheme, make_tree


@pytest.fixture
def scheme(db):
    return make_scheme()


@pytest.fixture
def tree(scheme):
    return make_tree(scheme)
