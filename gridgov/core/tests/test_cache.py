"""The Redis cache keeps one client per connection pool (Django builds one per operation)."""

from __future__ import annotations

import pytest

from gridgov.core.cache import RedisCache

URL = "redis://127.0.0.1:6379/9"


@pytest.fixture
def redis_cache():
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    return RedisCache(URL, {"KEY_PREFIX": "gridgov-test-cache"})


def test_one_client_serves_every_operation_and_the_values_round_trip(redis_cache):
    # when values are written and read
    redis_cache.set("k", (3, 1.5), timeout=30)
    # then they come back, through the same client each time
    assert redis_cache.get("k") == (3, 1.5)
    assert redis_cache._cache.get_client(write=True) is redis_cache._cache.get_client(write=True)
    redis_cache.delete("k")
    assert redis_cache.get("k") is None
