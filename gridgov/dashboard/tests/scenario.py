"""A week of cases in the test community (一网格 g1, 二网格 g2 under 白云寺村), driven through the real
services with explicit timestamps, so every figure of the dashboard can be counted by hand.

The week is Monday 2026-11-23 to Sunday 2026-11-29, local time (Asia/Shanghai). Per case: cell, matter
(category), what happened when, and what it counts for in the week:

  A  g1 01001 manhole (cat 01, water)  rep Mon 09:00, reg+disp 09:00, back 09:40, closed Tue 10:00, rated 5
                                        -> reported, registered, closed on time, 25 h
  B  g2 02001 vending (cat 02, worker) rep Mon 10:00, reg+disp 10:00, back 11:00, rework 11:30, back 12:00,
                                        closed Mon 13:00 -> reported, registered, closed on time, reworked, 3 h
  C  g1 02001                          rep Tue 09:00, reg+disp 09:00, back Fri 09:00 (late), closed Fri 10:00,
                                        rated 3 -> reported, registered, closed late, 73 h
  D  g2 01002 burst pipe (cat 01)      rep Mon 00:30 (Sunday in UTC), reg+disp Wed 09:00 -> reported,
                                        registered, open, with the water team
  E  g2 02001                          rep Fri 20th 15:00 (week before), back 15:30, closed Mon 11:30
                                        -> closed on time only, 68.5 h
  F  g1 02001 patrol, self-handled     rep Wed 14:00, handled on the spot 14:05, closed 15:00
                                        -> reported, registered, closed on time (no stages), 1 h
  G  g1 02001 resident                 rep Thu 08:00, rejected 09:00 -> reported only
  H  g2 02001 resident                 rep Sun 22nd 23:30 (before the week) -> nothing
  I  g1 02001 resident                 rep Mon 30th 00:10 (after the week; still Sunday in UTC) -> nothing
  J  community itself, 10001 dispute   rep Thu 10:00 -> reported only (the community's own row)
  K  g1 02001 hotline                  rep Fri 16:00, reg Fri 16:00 -> reported, registered
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from gridgov.cases.models import Channel
from gridgov.cases.services import case_evaluate, case_report, case_transition
from gridgov.cases.tests.factories import png, point_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEK = (dt.date(2026, 11, 23), dt.date(2026, 11, 29))


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A time in November 2026 (or 30 = Monday 30th), Shanghai time."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def _report(loop, cell: str, matter: str, at, *, channel=Channel.HOTLINE, actor=None, **kw):
    actor = actor if actor is not None else (loop.office if channel == Channel.HOTLINE else None)
    if cell == "community":
        where = {"node": loop.tree["community"]}
    else:
        lon, lat = point_in(loop.tree[cell])
        where = {"lon": lon, "lat": lat}
    return case_report(actor=actor, channel=channel, scheme=loop.scheme, matter=matter, description=f"{matter} {at}",
                       at=at, **where, **kw).case


def _act(case, actor, action, at, **kw):
    return case_transition(case=case, actor=actor, action=action, at=at, **kw)


def build_week(loop) -> dict:
    o = loop.office
    cases = {}

    a = _report(loop, "g1", "01001", local(23, 9), attributes={"problem": "missing"})
    a = _act(a, o, "register", local(23, 9))
    a = _act(a, o, "dispatch", local(23, 9))
    a = _act(a, loop.handler, "accept", local(23, 9, 10))
    a = _act(a, loop.handler, "report_back", local(23, 9, 40), after_photos=[png((0, 200, 0))])
    a = _act(a, o, "verify_pass", local(24, 10))
    cases["A"] = case_evaluate(case=a, actor=o, satisfaction=5, at=local(24, 11))

    b = _report(loop, "g2", "02001", local(23, 10))
    b = _act(b, o, "register", local(23, 10))
    b = _act(b, o, "dispatch", local(23, 10))
    b = _act(b, loop.worker2, "accept", local(23, 10, 30))
    b = _act(b, loop.worker2, "report_back", local(23, 11))
    b = _act(b, o, "verify_fail", local(23, 11, 30), reason="摊位还在")
    b = _act(b, loop.worker2, "report_back", local(23, 12))
    cases["B"] = _act(b, o, "verify_pass", local(23, 13))

    c = _report(loop, "g1", "02001", local(24, 9))
    c = _act(c, o, "register", local(24, 9))
    c = _act(c, o, "dispatch", local(24, 9))
    c = _act(c, loop.worker, "accept", local(24, 9, 30))
    c = _act(c, loop.worker, "report_back", local(27, 9))
    c = _act(c, o, "verify_pass", local(27, 10))
    cases["C"] = case_evaluate(case=c, actor=o, satisfaction=3, at=local(27, 11))

    d = _report(loop, "g2", "01002", local(23, 0, 30))
    d = _act(d, o, "register", local(25, 9))
    cases["D"] = _act(d, o, "dispatch", local(25, 9))

    e = _report(loop, "g2", "02001", local(20, 15))
    e = _act(e, o, "register", local(20, 15))
    e = _act(e, o, "dispatch", local(20, 15))
    e = _act(e, loop.worker2, "accept", local(20, 15, 10))
    e = _act(e, loop.worker2, "report_back", local(20, 15, 30))
    cases["E"] = _act(e, o, "verify_pass", local(23, 11, 30))

    f = _report(loop, "g1", "02001", local(25, 14), channel=Channel.PATROL, actor=loop.worker)
    f = _act(f, loop.worker, "self_handle", local(25, 14, 5), before_photos=[png()], after_photos=[png((0, 200, 0))])
    cases["F"] = _act(f, o, "verify_pass", local(25, 15))

    g = _report(loop, "g1", "02001", local(26, 8), channel=Channel.RESIDENT)
    cases["G"] = _act(g, o, "reject", local(26, 9), reason="不属于受理范围")

    cases["H"] = _report(loop, "g2", "02001", local(22, 23, 30), channel=Channel.RESIDENT)
    cases["I"] = _report(loop, "g1", "02001", dt.datetime(2026, 11, 30, 0, 10, tzinfo=SHANGHAI),
                         channel=Channel.RESIDENT)
    cases["J"] = _report(loop, "community", "10001", local(26, 10))

    k = _report(loop, "g1", "02001", local(27, 16))
    cases["K"] = _act(k, o, "register", local(27, 16))
    return cases
