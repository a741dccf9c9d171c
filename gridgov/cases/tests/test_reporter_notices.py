"""Text messages to a reporter who left a mobile number: one per step reached (registered, dispatched,
handled, closed), after the transition commits, with the tracking code and page and nothing personal; none
without a mobile; a gateway failure never breaks the transition."""

from __future__ import annotations

import socket

import pytest

from gridgov.cases.models import Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.services.reporter import reporter_sms_send
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.privacy import sms

WATER = {"kind": "DEPARTMENT", "department": "water"}


@pytest.fixture
def loop(scheme, tree, settings):
    settings.SMS_BACKEND = "gridgov.privacy.sms.LocmemBackend"
    settings.SITE_URL = "https://grid.example.cn"
    sms.outbox.clear()
    yield make_loop(scheme, tree)
    sms.outbox.clear()


def _report(loop, phone: str = "13812345678"):
    lon, lat = point_in(loop.tree["g1"])
    return case_report(actor=None, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01002", lon=lon, lat=lat,
                       description="水管爆了，王五家门口", reporter_name="李四", reporter_phone=phone).case


def _act(capture, case, actor, action, **kw):
    with capture(execute=True):
        return case_transition(case=case, actor=actor, action=action, **kw)


def test_the_reporter_is_told_each_step_once(loop, django_capture_on_commit_callbacks):
    # given a resident's report with a mobile number
    case = _report(loop)
    assert sms.outbox == []  # reporting itself sends nothing: the code is on the screen
    # when the case is registered, dispatched, accepted, handled and closed
    case = _act(django_capture_on_commit_callbacks, case, loop.office, "register")
    case = _act(django_capture_on_commit_callbacks, case, loop.office, "dispatch", assignee=WATER)
    case = _act(django_capture_on_commit_callbacks, case, loop.handler, "accept")
    case = _act(django_capture_on_commit_callbacks, case, loop.handler, "report_back")
    case = _act(django_capture_on_commit_callbacks, case, loop.office, "verify_pass")
    # then four messages went to the number, each naming its step, the code and the tracking page
    assert [m.phone for m in sms.outbox] == ["13812345678"] * 4
    texts = [m.text for m in sms.outbox]
    for text, word in zip(texts, ("registered", "passed to", "handled", "closed"), strict=True):
        assert word in text and case.tracking_code in text
        assert f"https://grid.example.cn/cases/track/{case.tracking_code}/" in text
        for secret in ("王五", "李四", "水管", loop.handler.username, "水务"):
            assert secret not in text


def test_rework_does_not_text_the_same_step_twice(loop, django_capture_on_commit_callbacks):
    # given a case handled once
    case = _report(loop)
    for actor, action, kw in ((loop.office, "register", {}), (loop.office, "dispatch", {"assignee": WATER}),
                              (loop.handler, "accept", {}), (loop.handler, "report_back", {})):
        case = _act(django_capture_on_commit_callbacks, case, actor, action, **kw)
    told = len(sms.outbox)
    # when verification fails, it is reported back again and closed
    case = _act(django_capture_on_commit_callbacks, case, loop.office, "verify_fail", reason="没修好")
    case = _act(django_capture_on_commit_callbacks, case, loop.handler, "report_back")
    case = _act(django_capture_on_commit_callbacks, case, loop.office, "verify_pass")
    # then only the closing was new
    assert told == 3 and len(sms.outbox) == 4 and "closed" in sms.outbox[-1].text


def test_a_task_delivered_twice_texts_once(loop, django_capture_on_commit_callbacks):
    case = _act(django_capture_on_commit_callbacks, _report(loop), loop.office, "register")
    seq = case.events.get(kind="register").seq
    assert len(sms.outbox) == 1
    assert reporter_sms_send(case_id=case.pk, step="registered", seq=seq) is False
    assert len(sms.outbox) == 1


@pytest.mark.parametrize("phone", ["", "010-12345678"])
def test_no_text_without_a_mobile_number(loop, django_capture_on_commit_callbacks, phone):
    # given a report without a phone, or with a landline
    case = _report(loop, phone=phone)
    # when it is registered and dispatched
    case = _act(django_capture_on_commit_callbacks, case, loop.office, "register")
    _act(django_capture_on_commit_callbacks, case, loop.office, "dispatch", assignee=WATER)
    # then nobody is texted
    assert sms.outbox == []


def test_nothing_is_sent_for_a_transition_that_rolls_back(loop, django_capture_on_commit_callbacks):
    from django.db import transaction

    case = _report(loop)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        case_transition(case=case, actor=loop.office, action="register")
        raise RuntimeError("rolled back")
    assert sms.outbox == []


def test_a_failing_gateway_never_breaks_the_transition_and_is_retried(loop, settings,
                                                                      django_capture_on_commit_callbacks):
    # given a gateway nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.SMS_BACKEND = "gridgov.privacy.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{port}/sms"
    settings.SMS_GATEWAY_TIMEOUT = 2
    case = _report(loop)
    # when the case is registered
    case = _act(django_capture_on_commit_callbacks, case, loop.office, "register")
    # then the case moved on all the same
    case.refresh_from_db()
    assert case.state == CaseState.REGISTERED
    # and once the gateway is back, the task's retry sends the message (the failed try claimed nothing)
    settings.SMS_BACKEND = "gridgov.privacy.sms.LocmemBackend"
    seq = case.events.get(kind="register").seq
    assert reporter_sms_send(case_id=case.pk, step="registered", seq=seq) is True
    assert len(sms.outbox) == 1 and case.tracking_code in sms.outbox[0].text
