"""A case's answer built as a plain dict (`answers.case_answer`) is byte for byte what `CaseDetailSerializer`
and `CaseIntakeSerializer` render: for cases in every state (new with photos, registered, with a grid
worker, a team or a community, reported back, reworked, with a pending extension, whistled, closed,
reopened, returned and dispatched again, handled on the spot, merged), to viewers who may and who may not
see who reported the case or its tracking code, in both languages, and for a new case answered from what
intake wrote (not read again)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.utils import translation
from rest_framework.renderers import JSONRenderer

from gridgov.cases.answers import case_answer
from gridgov.cases.api import _as_written, _detail_queryset
from gridgov.cases.grants import sees_reporter, sees_tracking_code
from gridgov.cases.models import Case, Channel
from gridgov.cases.serializers import CaseDetailSerializer, CaseIntakeSerializer
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, png, point_in
from gridgov.cases.tests.test_standings import _cases
from gridgov.cases.tests.test_transition_facts import _more

pytestmark = pytest.mark.django_db

DUPLICATES = [{"id": 7, "number": "20260101-7", "distance_m": 12.5, "state": "NEW"}]


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


def _rendered(data) -> bytes:
    return JSONRenderer().render(data)


def _both(case: Case, user, duplicates=None) -> tuple[bytes, bytes]:
    sees, code = sees_reporter(user, case), sees_tracking_code(user, case)
    context = {"request": SimpleNamespace(user=user), "sees_reporter": sees, "sees_tracking_code": code}
    if duplicates is None:
        drf = CaseDetailSerializer(case, context=context).data
    else:
        drf = CaseIntakeSerializer(case, context={**context, "duplicates": duplicates}).data
    plain = case_answer(case, user=user, sees_reporter=sees, sees_tracking_code=code, duplicates=duplicates)
    return _rendered(drf), _rendered(plain)


def _merged(loop) -> Case:
    lon, lat = point_in(loop.tree["g1"])
    first, second = (case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter="02001",
                                 lon=lon, lat=lat, description="占道经营").case for _ in range(2))
    return case_transition(case=second, actor=loop.centre, action="merge", into=first.pk, reason="同一摊位")


def _resident(loop) -> Case:
    lon, lat = point_in(loop.tree["g2"])
    return case_report(actor=loop.worker, channel=Channel.RESIDENT, scheme=loop.scheme, matter="10001", lon=lon,
                       lat=lat, description="楼上漏水", reporter_name="王某", reporter_phone="13800138000",
                       anonymous=True, place="3号楼").case


def test_the_plain_answer_is_the_serializers_for_every_case_viewer_and_language(loop):
    # given cases in every state and viewers who may and may not see who reported them
    cases = [*_cases(loop), *_more(loop), _merged(loop), _resident(loop)]
    assert len({c.state for c in cases}) >= 7
    users = [loop.centre, loop.office, loop.leader, loop.worker, loop.worker2, loop.handler]
    seen = set()
    for pk in (c.pk for c in cases):
        case = _detail_queryset().get(pk=pk)
        for user in users:
            seen.add((sees_reporter(user, case), sees_tracking_code(user, case)))
            for language in ("zh-hans", "en"):
                with translation.override(language):
                    # when the case is answered both ways, as a detail and as an intake answer
                    for duplicates in (None, [], DUPLICATES):
                        drf, plain = _both(case, user, duplicates)
                        # then the two are the same bytes
                        assert plain == drf, (case.state, user.username, language, duplicates)
    assert seen == {(True, True), (True, False), (False, False)}


def test_a_new_case_answered_from_what_intake_wrote_is_the_serializers(loop):
    # given a report with photos and a reporter's contact, answered without reading the case again
    lon, lat = point_in(loop.tree["g1"])
    result = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter="01001", lon=lon,
                         lat=lat, description="井盖丢了", photos=[png(), png((0, 0, 200))],
                         attributes={"problem": "missing"}, reporter_phone="13800138000")
    assert result.written is not None
    _as_written(result.case, result.written)
    for user in (loop.office, loop.worker, loop.handler):
        for language in ("zh-hans", "en"):
            with translation.override(language):
                # when it is answered both ways
                drf, plain = _both(result.case, user, DUPLICATES)
                # then the two are the same bytes
                assert plain == drf, (user.username, language)
