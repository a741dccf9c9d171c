"""What `case_transition` reads with the case's lock answers exactly as the reads it replaced: the handlers of
the case's current round and of any round (`selectors.round_handlers` over `case_rounds`) and the users who
are its assignee (`notify.assignee_user_ids`), for cases in every stage — reworked, reopened, returned and
dispatched again (a second dispatch opens a round, the first does not), handled on the spot, with a grid
worker, a team or a community."""

from __future__ import annotations

import pytest
from django.db import transaction

from gridgov.cases.models import Case, Channel
from gridgov.cases.notify import assignee_user_ids, case_assignee_ids
from gridgov.cases.selectors import round_handlers
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.services.transition import _case_lock
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.cases.tests.test_standings import WATER, _cases

pytestmark = pytest.mark.django_db


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _more(loop) -> list[Case]:
    def act(case, actor, action, **kw):
        return case_transition(case=Case.objects.get(pk=case.pk), actor=actor, action=action, **kw)

    def report(**kw):
        lon, lat = point_in(loop.tree["g1"])
        return case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter="02001", lon=lon,
                           lat=lat, description="占道经营", photos=[png()], **kw).case

    closed = act(act(act(act(act(report(), loop.office, "register"), loop.office, "dispatch", assignee=WATER),
                         loop.handler, "accept"), loop.handler, "report_back"), loop.office, "verify_pass")
    reopened = act(closed, loop.centre, "reopen", reason="没修好")
    returned = act(act(act(report(), loop.office, "register"), loop.office, "dispatch", assignee=WATER),
                   loop.handler, "return", reason="不归我们")
    again = act(act(returned, loop.office, "dispatch", assignee={"kind": "COMMUNITY"}), loop.leader, "accept")
    lon, lat = point_in(loop.tree["g1"])
    spot = case_report(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                       description="占道经营，已劝离", self_handled=True, before_photos=[png()],
                       after_photos=[png((0, 200, 0))]).case
    return [closed, reopened, again, spot]


def test_what_the_lock_reads_answers_as_the_reads_it_replaced(loop):
    # given cases in every stage
    cases = _cases(loop) + _more(loop)
    assert len({c.state for c in cases}) >= 6
    for case in cases:
        fresh = Case.objects.get(pk=case.pk)
        expected_handlers = round_handlers(fresh)
        expected_assignees = frozenset(assignee_user_ids({fresh.pk: fresh})[fresh.pk])
        # when the case is read the way a transition locks it
        with transaction.atomic():
            locked = _case_lock(case.pk)
        # then its handlers and assignees are those the reads give
        assert round_handlers(locked) == expected_handlers, case.state
        assert case_assignee_ids(locked) == expected_assignees, case.state
    # and the rounds were not trivial: someone handled a round of most cases, and a later round is not the first
    assert sum(bool(round_handlers(Case.objects.get(pk=c.pk))[1]) for c in cases) >= 4
