"""Rate limits: one keyed counter on one cache shared by every process, and the DRF throttles built on it.

Every limit of the product (logins, the public report form, tracking lookups, ratings, Open311 posts, API
writes) counts here, keyed by what it limits (an address from `core.api.client_address`, a user id, a name
and an address ...). The counters live in the cache named by `RATELIMIT_CACHE` (the database cache by
default, Redis when configured), so two web processes share a bucket; keys are digests, so the cache holds
neither addresses nor typed names."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle


def limits_cache():
    return caches[getattr(settings, "RATELIMIT_CACHE", "default")]


def _key(scope: str, key: str) -> str:
    return f"rl:{scope}:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:40]}"


@dataclass(frozen=True)
class Hit:
    count: int  # events in the current window, this one included
    over: bool  # the limit is passed: refuse
    retry_after: int  # seconds until the window ends


def ratelimit_hit(*, scope: str, key: str, limit: int, seconds: int, cache=None) -> Hit:
    """Count one event of `scope` for `key` in a fixed window of `seconds` that starts with the first event;
    `over` once more than `limit` events fall in the window. The window end is stored with the count, so a
    backend whose `incr` resets the expiry (the database cache) keeps the window."""
    cache = cache or limits_cache()
    name = _key(scope, key)
    if hasattr(cache, "window_hit"):  # Redis: counted atomically in one round trip
        count, left = cache.window_hit(name, seconds)
        remaining = max(1, math.ceil(left))
        return Hit(count=count, over=count > limit, retry_after=remaining)
    now = time.time()
    entry = cache.get(name)
    if not entry or entry[1] <= now:
        entry = (0, now + seconds)
    count, ends = entry[0] + 1, entry[1]
    remaining = max(1, math.ceil(ends - now))
    cache.set(name, (count, ends), timeout=remaining)
    return Hit(count=count, over=count > limit, retry_after=remaining)


def ratelimit_count(*, scope: str, key: str, cache=None) -> int:
    """Events counted so far in the current window (0 when none or expired)."""
    entry = (cache or limits_cache()).get(_key(scope, key))
    if isinstance(entry, int):  # a Redis window (`window_hit`): alive while its key is
        return entry
    return entry[0] if entry and entry[1] > time.time() else 0


def ratelimit_clear(*, scope: str, key: str, cache=None) -> None:
    (cache or limits_cache()).delete(_key(scope, key))


def stamp_get(*, scope: str, key: str, cache=None):
    """A value kept beside the counters under the same digest keys (e.g. "held back until")."""
    return (cache or limits_cache()).get(_key(scope, key))


def stamp_set(*, scope: str, key: str, value, seconds: int, cache=None) -> None:
    (cache or limits_cache()).set(_key(scope, key), value, timeout=max(1, int(seconds)))


class _WriteThrottle(BaseThrottle):
    """Unsafe requests (POST, PUT, PATCH, DELETE) per minute; reads are not limited here."""

    scope = ""
    setting = ""

    def key(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        self._retry = None
        if request.method in SAFE_METHODS:
            return True
        key = self.key(request)
        if key is None:
            return True
        hit = ratelimit_hit(scope=self.scope, key=key, limit=getattr(settings, self.setting), seconds=60)
        if hit.over:
            self._retry = hit.retry_after
        return not hit.over

    def wait(self):
        return self._retry


class WriteUserThrottle(_WriteThrottle):
    scope = "api-write-user"
    setting = "API_WRITES_PER_MINUTE_USER"

    def key(self, request) -> str | None:
        user = getattr(request, "user", None)
        return str(user.pk) if user is not None and user.is_authenticated else None


class WriteAddressThrottle(_WriteThrottle):
    scope = "api-write-address"
    setting = "API_WRITES_PER_MINUTE_ADDRESS"

    def key(self, request) -> str | None:
        from gridgov.core.api import client_address

        return client_address(request) or "unknown"
