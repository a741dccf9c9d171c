"""Fixtures of the base-data tests."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Search counts live in the shared cache (gridgov/people/search.py): each test starts with none, since
    user ids repeat from one test to the next."""
    cache.clear()
    yield
    cache.clear()
