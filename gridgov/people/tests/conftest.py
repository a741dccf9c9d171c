"""Fixtures of the base-data tests."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty default cache, since user ids repeat from one test to the next (search
    counts live in the rate-limit cache, a table of the test database rolled back with each test)."""
    cache.clear()
    yield
    cache.clear()
