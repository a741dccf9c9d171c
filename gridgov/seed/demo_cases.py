"""Demo cases for a loaded profile: a few weeks of reports from every channel, taken through the loop by
the profile's own people, so the command centre, the inbox and the timelines have something to show.
Everything goes through the services (intake and transitions, with past times), so the demo obeys the
deployment's grants, routing and admission exactly as real work would; a step the configuration refuses
simply leaves the case where it is. Deterministic for a given seed."""

from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass, field

import shapely
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from PIL import Image

from gridgov.accounts.models import Assignment, RoleCategory
from gridgov.cases.errors import CaseConflict
from gridgov.cases.models import Case, Channel
from gridgov.cases.services import case_evaluate, case_report, case_transition
from gridgov.catalogue.models import Matter
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.territory.models import Node

# how far each demo case gets (weights): most are done, some still running, a few just in
ENDINGS = (("REPORTED", 2), ("REGISTERED", 1), ("DISPATCHED", 2), ("IN_PROGRESS", 3), ("REPORTED_BACK", 2),
           ("CLOSED", 4), ("EVALUATED", 6), ("SELF", 4))
ORDER = ["REPORTED", "REGISTERED", "DISPATCHED", "IN_PROGRESS", "REPORTED_BACK", "CLOSED", "EVALUATED"]
DESCRIPTIONS = ("巡查发现{m}，请尽快处置", "居民反映{m}，影响出行", "来电反映{m}问题", "{m}，现场已拍照")


@dataclass
class DemoReport:
    created: int = 0
    refused: dict[str, int] = field(default_factory=dict)


def _photo(rng: random.Random) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (rng.randrange(256), rng.randrange(256), rng.randrange(256))).save(buf, "JPEG")
    return buf.getvalue()


def _point(rng: random.Random, node: Node) -> tuple[float, float]:
    geom = shapely.geometry.shape(node.geometry)
    minx, miny, maxx, maxy = geom.bounds
    for _ in range(50):
        p = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if geom.contains(p):
            return p.x, p.y
    p = geom.representative_point()
    return p.x, p.y


def _answers(rng: random.Random, matter: Matter) -> dict:
    """Plausible answers to the matter's attributes (its Open311 form)."""
    out = {}
    for spec in matter.attributes or []:
        values = [v["key"] for v in spec.get("values", [])]
        kind = spec.get("datatype", "string")
        if kind in ("singlevaluelist", "multivaluelist") and values:
            out[spec["code"]] = rng.choice(values) if kind == "singlevaluelist" else [rng.choice(values)]
        elif kind == "number":
            out[spec["code"]] = rng.randint(1, 5)
        elif kind == "datetime" and spec.get("required"):
            out[spec["code"]] = timezone.localtime().replace(microsecond=0).isoformat()
        elif spec.get("required"):
            out[spec["code"]] = "现场可见"
    return out


def _workers(scheme) -> list[tuple[object, Node]]:
    rows = (Assignment.objects.current().filter(node__scheme=scheme, node__valid_to__isnull=True,
                                                role__category=RoleCategory.GRID_WORKER, person__user__isnull=False,
                                                node__geometry__isnull=False)
            .select_related("person__user", "node").order_by("node__code", "pk"))
    return [(a.person.user, a.node) for a in rows]


def demo_cases(*, scheme, count: int = 40, seed: int = 7, now: dt.datetime | None = None) -> DemoReport:
    rng = random.Random(f"{scheme.key}:{seed}")
    now = now or timezone.now()
    report = DemoReport()
    centre = get_user_model().objects.filter(sees_everything=True, scheme=scheme, is_active=True).order_by("pk").first()
    workers = _workers(scheme)
    catalogue = scheme_catalogue(scheme)
    matters = list(Matter.objects.filter(catalogue=catalogue, active=True).order_by("code")) if catalogue else []
    if centre is None or not workers or not matters:
        return report
    for i in range(count):
        worker, cell = workers[i % len(workers)]
        matter = rng.choice(matters)
        ending = rng.choices([e for e, _w in ENDINGS], weights=[w for _e, w in ENDINGS])[0]
        start = timezone.localtime(now - dt.timedelta(days=rng.randint(0, 20))).replace(
            hour=rng.randint(8, 17), minute=rng.randint(0, 59), second=0, microsecond=0)
        if start > now:
            start -= dt.timedelta(days=1)
        clock = iter(start + dt.timedelta(minutes=20 * k + rng.randint(0, 15)) for k in range(1, 40))
        lon, lat = _point(rng, cell)
        channel = Channel.PATROL if ending == "SELF" else rng.choice([Channel.PATROL, Channel.RESIDENT,
                                                                     Channel.HOTLINE])
        actor = {Channel.PATROL: worker, Channel.HOTLINE: centre}.get(channel)
        text = rng.choice(DESCRIPTIONS).format(m=matter.name_zh)
        try:
            result = case_report(
                actor=actor, channel=channel, scheme=scheme, matter=matter, lon=lon, lat=lat, description=text,
                photos=[_photo(rng)], at=start, self_handled=ending == "SELF", attributes=_answers(rng, matter),
                after_photos=[_photo(rng)] if ending == "SELF" else None,
                reporter_phone=f"1540000{rng.randint(0, 9999):04d}" if channel == Channel.HOTLINE else "",
                idempotency_key=f"demo-{scheme.key}-{seed}-{i}", client="demo")
        except (ValidationError, PermissionDenied) as exc:
            report.refused[type(exc).__name__] = report.refused.get(type(exc).__name__, 0) + 1
            continue
        report.created += result.created
        if ending == "SELF" or not result.created:
            continue
        _advance(result.case, ending=ending, centre=centre, worker=worker, clock=clock, rng=rng, report=report,
                 now=now)
    return report


def _advance(case: Case, *, ending: str, centre, worker, clock, rng, report: DemoReport, now) -> None:
    target = ORDER.index(ending)
    for step in ORDER[1:target + 1]:
        when = min(next(clock), now)
        try:
            if step == "REGISTERED":
                case = case_transition(case=case, actor=centre, action="register", at=when)
            elif step == "DISPATCHED":
                case = case_transition(case=case, actor=centre, action="dispatch", at=when)
            elif step == "IN_PROGRESS":
                case = case_transition(case=case, actor=_assignee(case, worker), action="accept", at=when)
            elif step == "REPORTED_BACK":
                case = case_transition(case=case, actor=_assignee(case, worker), action="report_back",
                                       after_photos=[_photo(rng)], note="已处置完毕", at=when)
            elif step == "CLOSED":
                case = case_transition(case=case, actor=centre, action="verify_pass", at=when)
            elif step == "EVALUATED":
                case = case_evaluate(case=case, actor=centre, satisfaction=rng.choice([4, 5, 5, 5]), at=when)
        except (ValidationError, PermissionDenied, CaseConflict) as exc:
            report.refused[type(exc).__name__] = report.refused.get(type(exc).__name__, 0) + 1
            return


def _assignee(case: Case, worker):
    """Who acts for the case's assignee in the demo: the assigned person, a team member, or someone
    assigned to the assigned community."""
    if case.assignee_user_id:
        return case.assignee_user
    if case.assignee_team_id:
        member = case.assignee_team.members.filter(is_active=True).order_by("pk").first()
        if member:
            return member
    if case.assignee_node_id:
        found = (Assignment.objects.current().filter(node_id=case.assignee_node_id, role__grants_scope=True,
                                                     person__user__isnull=False)
                 .select_related("person__user").order_by("pk").first())
        if found:
            return found.person.user
    return worker
