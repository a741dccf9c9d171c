"""Rate limits behind a reverse proxy: one `client_address` rule (only trusted proxies' X-Forwarded-For is
believed, read from the right), counters in a cache shared by every process, and the limits on the public
pages, Open311 posts and API writes."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import Client, RequestFactory

from gridgov.core.api import client_address
from gridgov.core.ratelimit import ratelimit_count, ratelimit_hit

PROXY = "10.0.0.5"


def _address(remote: str, forwarded: str | None = None) -> str | None:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **meta))


def test_without_trusted_proxies_the_header_is_never_believed(settings):
    settings.TRUSTED_PROXIES = []
    assert _address("203.0.113.9", "1.2.3.4") == "203.0.113.9"


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert _address("203.0.113.9", "10.0.0.7, 1.2.3.4") == "203.0.113.9"


def test_behind_trusted_proxies_the_rightmost_untrusted_address_is_the_client(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    # the client wrote "6.6.6.6" itself: the proxy appended the address it saw
    assert _address(PROXY, "6.6.6.6, 198.51.100.20") == "198.51.100.20"
    # two proxies in a row
    assert _address(PROXY, "198.51.100.20, 10.1.1.1") == "198.51.100.20"
    assert _address("fd00::1", "2001:db8::7") == "2001:db8::7"
    # a port, a malformed hop, nothing forwarded
    assert _address(PROXY, "198.51.100.20:51234") == "198.51.100.20"
    assert _address(PROXY, "not-an-address") == PROXY
    assert _address(PROXY) == PROXY


@pytest.mark.django_db
def test_the_limit_holds_across_two_processes_sharing_the_database_cache(settings):
    # given two cache clients of the limits cache, as two web processes each have their own
    first, second = caches.create_connection("ratelimit"), caches.create_connection("ratelimit")
    assert first is not second and type(first).__name__ == "DatabaseCache"
    # when three events are counted in one and one more in the other
    for _ in range(3):
        assert not ratelimit_hit(scope="t", key="198.51.100.1", limit=3, seconds=60, cache=first).over
    hit = ratelimit_hit(scope="t", key="198.51.100.1", limit=3, seconds=60, cache=second)
    # then the other sees the same bucket: over, with the window kept
    assert hit.over and hit.count == 4 and 55 <= hit.retry_after <= 60
    assert ratelimit_count(scope="t", key="198.51.100.1", cache=first) == 4
    assert ratelimit_count(scope="t", key="198.51.100.2", cache=first) == 0


@pytest.mark.django_db
def test_two_residents_behind_the_proxy_have_separate_buckets_and_spoofing_does_not_help(settings):
    # given a deployment behind the documented reverse proxy
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.CASE_TRACK_LOOKUPS_PER_MINUTE = 2
    proxied = Client(REMOTE_ADDR=PROXY)

    def look(**headers):
        return proxied.get("/cases/track/NOSUCHCODE1/", **headers).status_code

    # when one resident guesses codes until the limit
    assert [look(HTTP_X_FORWARDED_FOR="198.51.100.1") for _ in range(3)] == [404, 404, 429]
    # then another resident behind the same proxy is not held back
    assert look(HTTP_X_FORWARDED_FOR="198.51.100.2") == 404
    # and a client that talks to the app directly cannot escape its bucket by forging the header
    direct = Client(REMOTE_ADDR="203.0.113.9")
    statuses = [direct.get("/cases/track/NOSUCHCODE1/", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code
                for n in range(3)]
    assert statuses == [404, 404, 429]


@pytest.mark.django_db
def test_open311_posts_are_limited_per_address(settings):
    settings.OPEN311_POSTS_PER_HOUR = 2
    client = Client(REMOTE_ADDR="203.0.113.10")
    statuses = [client.post("/open311/v2/requests.json", {"service_code": "x"}).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    assert "too many requests" in client.post("/open311/v2/requests.json", {}).json()[0]["description"]
    assert Client(REMOTE_ADDR="203.0.113.11").post("/open311/v2/requests.json", {}).status_code == 400


@pytest.mark.django_db
def test_api_writes_are_limited_per_user_and_per_address_reads_are_not(settings):
    # given a logged-in user and small limits
    from django.contrib.auth import get_user_model

    settings.API_WRITES_PER_MINUTE_USER, settings.API_WRITES_PER_MINUTE_ADDRESS = 2, 3
    user = get_user_model().objects.create_user("api-user", password="Pass-word-1x")
    client = Client(REMOTE_ADDR="203.0.113.20")
    client.force_login(user)
    # when the user writes three times (refused writes count too) and reads more often
    writes = [client.post("/api/accounts/roles/", {}, content_type="application/json").status_code for _ in range(3)]
    reads = {client.get("/api/accounts/roles/").status_code for _ in range(5)}
    # then the third write waits, with Retry-After; reads go on
    assert writes[:2] != [429, 429] and writes[2] == 429
    assert reads == {200}
    # and anonymous writes from one address (the token endpoint) are limited by the address
    anonymous = Client(REMOTE_ADDR="203.0.113.21")
    tries = [anonymous.post("/api/accounts/token", {"username": "x", "password": "y"},
                            content_type="application/json") for _ in range(4)]
    assert [t.status_code for t in tries] == [400, 400, 400, 429] and int(tries[3]["Retry-After"]) > 0
