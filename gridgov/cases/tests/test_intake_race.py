"""A retried submission racing the first one (the client timed out and resent): one case, on PostgreSQL
with real parallel connections."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from gridgov.cases.models import Case, Channel
from gridgov.cases.services import case_report
from gridgov.cases.tests.factories import make_loop, point_in

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="real parallel connections: PostgreSQL only (SQLite serialises writers)")


@pytest.mark.django_db(transaction=True)
def test_same_idempotency_key_at_once_creates_one_case(scheme, tree):
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    def submit(key, barrier, results, errors):
        try:
            barrier.wait()
            results.append(case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="02001",
                                       lon=lon, lat=lat, description="占道经营", idempotency_key=key,
                                       client="app-1"))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    for round_ in range(5):
        barrier, results, errors = threading.Barrier(2), [], []
        threads = [threading.Thread(target=submit, args=(f"retry-{round_}", barrier, results, errors))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert len({r.case.pk for r in results}) == 1
        assert sorted(r.created for r in results) == [False, True]
    assert Case.objects.count() == 5
