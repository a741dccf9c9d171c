"""Django's Redis cache, keeping one client per connection pool: Django builds a new `redis.Redis` for every
cache operation (its response callbacks and all), which cost more CPU than the round trip on the hot paths
(two rate-limit counters per API write). A `redis.Redis` over a pool is safe to share between threads.
It also counts a rate limit's window in one atomic round trip (`window_hit`), naming its script by digest
(EVALSHA) rather than sending it with every call."""

from __future__ import annotations

import hashlib

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


# one event counted in a fixed window that starts with its first event: (count, milliseconds left)
_WINDOW_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); left = tonumber(ARGV[1]) end
return {count, left}
"""
_WINDOW_HIT_SHA = hashlib.sha1(_WINDOW_HIT.encode(), usedforsecurity=False).hexdigest()  # how Redis names it


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    def window_hit(self, key: str, seconds: int) -> tuple[int, float]:
        """Count one event under `key` in its window of `seconds` (started by its first event), atomically
        and in one round trip: (events in the window, seconds until it ends). `get(key)` reads the count."""
        from redis.exceptions import NoScriptError

        name = self.make_and_validate_key(key)
        client = self._cache.get_client(name, write=True)
        try:
            count, left = client.evalsha(_WINDOW_HIT_SHA, 1, name, int(seconds * 1000))
        except NoScriptError:  # a server that has not seen the script yet (restarted, flushed): load it once
            client.script_load(_WINDOW_HIT)
            count, left = client.evalsha(_WINDOW_HIT_SHA, 1, name, int(seconds * 1000))
        return int(count), int(left) / 1000
