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


def test_a_rate_limit_window_on_redis_counts_every_event_once_across_processes(redis_cache):
    from concurrent.futures import ThreadPoolExecutor

    from gridgov.core.ratelimit import ratelimit_clear, ratelimit_count, ratelimit_hit

    # given two processes' caches on the same Redis, and a fresh window
    other = RedisCache(URL, {"KEY_PREFIX": "gridgov-test-cache"})
    ratelimit_clear(scope="t", key="203.0.113.9", cache=redis_cache)
    # when 40 events are counted at once from both (one round trip each, atomic on the server)
    with ThreadPoolExecutor(8) as pool:
        hits = list(pool.map(lambda i: ratelimit_hit(scope="t", key="203.0.113.9", limit=30, seconds=60,
                                                     cache=(redis_cache, other)[i % 2]), range(40)))
    # then none is lost or counted twice, the 31st and later are over the limit, and the window has its end
    assert sorted(h.count for h in hits) == list(range(1, 41))
    assert sum(h.over for h in hits) == 10
    assert all(0 < h.retry_after <= 60 for h in hits)
    assert ratelimit_count(scope="t", key="203.0.113.9", cache=other) == 40
    ratelimit_clear(scope="t", key="203.0.113.9", cache=redis_cache)
    assert ratelimit_count(scope="t", key="203.0.113.9", cache=redis_cache) == 0


def test_a_rate_limit_window_names_its_script_by_digest_and_loads_it_on_a_server_without_it(redis_cache):
    import redis

    from gridgov.core.ratelimit import ratelimit_clear, ratelimit_hit

    client = redis_cache._cache.get_client(write=True)
    watcher = redis.Redis.from_url(URL)
    ratelimit_clear(scope="sha", key="203.0.113.10", cache=redis_cache)
    # given a server that does not know the script (as after a restart)
    watcher.script_flush()
    connection_id = client.client_id()
    # when two events are counted
    first = ratelimit_hit(scope="sha", key="203.0.113.10", limit=30, seconds=60, cache=redis_cache)
    second = ratelimit_hit(scope="sha", key="203.0.113.10", limit=30, seconds=60, cache=redis_cache)
    # then both are counted, and the last went by its digest, not its text
    assert (first.count, second.count) == (1, 2)
    assert watcher.client_list(client_id=[connection_id])[0]["cmd"] == "evalsha"
    ratelimit_clear(scope="sha", key="203.0.113.10", cache=redis_cache)
