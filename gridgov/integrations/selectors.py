"""Reads behind the Open311 GeoReport v2 endpoint. Everything is read within one jurisdiction (a
level scheme): its catalogue's active matters are the services, its cases the service requests."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Max, Q, QuerySet
from django.utils.translation import gettext as _

from gridgov.cases.grants import action_allowed_as
from gridgov.cases.models import Case, Channel, Publication
from gridgov.cases.states import OPEN_STATES, CaseState
from gridgov.catalogue.models import Catalogue, Matter
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.people.textscan import text_scrub
from gridgov.privacy.masking import mask_address
from gridgov.territory.models import LevelScheme

MAX_REQUESTS = 1000
METRES_PER_DEGREE = 111_320.0  # of latitude (and of longitude at the equator)
DEFAULT_WINDOW = dt.timedelta(days=90)


def jurisdiction_resolve(key: str) -> LevelScheme:
    """The scheme named by an Open311 `jurisdiction_id`; without one, the deployment's only scheme.
    Refuses (ValidationError on `jurisdiction_id`, code "not_found" for an unknown one) otherwise."""
    key = (key or "").strip()
    if key:
        found = LevelScheme.objects.filter(key=key).first()
        if found is None:
            raise ValidationError({"jurisdiction_id": ValidationError(
                _("unknown jurisdiction %(key)s") % {"key": key[:40]}, code="not_found")})
        return found
    schemes = list(LevelScheme.objects.order_by("pk")[:2])
    if len(schemes) == 1:
        return schemes[0]
    if not schemes:
        raise ValidationError({"jurisdiction_id": ValidationError(_("this endpoint serves no jurisdiction yet"),
                                                                  code="not_found")})
    raise ValidationError({"jurisdiction_id": _("required: this endpoint serves several jurisdictions")})


def open311_services(scheme: LevelScheme) -> QuerySet[Matter]:
    """The services of a jurisdiction: the active matters of its catalogue."""
    catalogue = scheme_catalogue(scheme)
    if catalogue is None:
        return Matter.objects.none()
    return Matter.objects.filter(catalogue=catalogue, active=True).select_related("category").order_by("code")


def open311_service(scheme: LevelScheme, code: str) -> Matter | None:
    return open311_services(scheme).filter(code=str(code).strip()).first()


def open311_changeset() -> dt.datetime | None:
    """When the published services last changed (the newest catalogue update)."""
    return Catalogue.objects.aggregate(m=Max("updated_at"))["m"]


@dataclass
class RequestQuery:
    """A GET requests query. `ids` (case numbers) override every other filter, as the spec says."""

    ids: list[str] = field(default_factory=list)
    service_codes: list[str] = field(default_factory=list)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: set[str] = field(default_factory=set)  # "open" / "closed"; empty = both


# Police transfers and hotline calls are told in the caller's own words (names, places of private
# disputes): they are never published on the public Open311 read endpoints.
PUBLIC_CHANNELS = (Channel.RESIDENT, Channel.OPEN311, Channel.PATROL, Channel.CAMERA, Channel.DEPARTMENT)


def case_taken_up_q() -> Q:
    """A case the centre has taken up: registered (or handled on the spot and reported back), not
    rejected, not merged away before registration. A report nobody has looked at is not one."""
    return (~Q(state__in=(CaseState.REPORTED, CaseState.REJECTED))
            & ~Q(state=CaseState.MERGED, registered_at__isnull=True))


def case_publishable_q() -> Q:
    """What the public feed may ever show, before any staff decision: a case taken up, of a public
    matter (`Matter.public_feed`), that came in on a public channel."""
    return case_taken_up_q() & Q(matter__public_feed=True, channel__in=PUBLIC_CHANNELS)


def open311_case_scope(qs: QuerySet[Case], scheme: LevelScheme) -> QuerySet[Case]:
    """The one scope of every public Open311 read (list, single request, token): the jurisdiction's
    publishable cases that a staff member has published and nobody has hidden since."""
    return qs.filter(case_publishable_q(), scheme=scheme, publication=Publication.PUBLISHED)


def _cases(scheme: LevelScheme) -> QuerySet[Case]:
    return (open311_case_scope(Case.objects.all(), scheme)
            .select_related("matter__category", "node", "assignee_team__department", "assignee_node", "merged_into")
            .annotate(last_event_at=Max("events__at")))


def _by_numbers(scheme: LevelScheme, numbers: list[str]) -> list[Case]:
    wanted = {str(n).strip() for n in numbers if str(n).strip()}
    pks = {Case.pk_from_number(n) for n in wanted} - {None}
    # the number's date must match too: a bare id or a wrong date finds nothing
    return [c for c in _cases(scheme).filter(pk__in=pks) if c.number in wanted]


def open311_requests(scheme: LevelScheme, query: RequestQuery, *, now: dt.datetime) -> list[Case]:
    """The jurisdiction's cases matching the query, newest first, at most 1000. Without dates, those
    reported in the last 90 days; with only an end date, the 90 days before it."""
    if query.ids:
        return _by_numbers(scheme, query.ids)[:MAX_REQUESTS]
    start = query.start or (query.end or now) - DEFAULT_WINDOW
    qs = _cases(scheme).filter(reported_at__gte=start)
    if query.end is not None:
        qs = qs.filter(reported_at__lte=query.end)
    if query.service_codes:
        qs = qs.filter(matter__code__in=query.service_codes)
    if query.statuses == {"open"}:
        qs = qs.filter(state__in=OPEN_STATES)
    elif query.statuses == {"closed"}:
        qs = qs.exclude(state__in=OPEN_STATES)
    return list(qs.order_by("-reported_at", "-pk")[:MAX_REQUESTS])


def open311_request(scheme: LevelScheme, number: str) -> Case | None:
    found = _by_numbers(scheme, [number])
    return found[0] if found else None


def open311_token(scheme: LevelScheme, token: str) -> Case | None:
    token = (token or "").strip().upper()
    if not token or len(token) > 16:
        return None
    return open311_case_scope(Case.objects.all(), scheme).filter(tracking_code=token).first()


# =========================================================================== what the public sees of one case
def public_position(case: Case) -> tuple[float | None, float | None]:
    """(lat, lon) as the feed shows them: exact for a matter in public space (`Matter.public_space`),
    otherwise the centre of the OPEN311_POSITION_GRID_M square the point lies in, so a report about a
    home, a shop or a person never pins them down."""
    if case.lat is None or case.lon is None:
        return None, None
    if case.matter_id and case.matter.public_space:
        return case.lat, case.lon
    grid_m = max(int(getattr(settings, "OPEN311_POSITION_GRID_M", 100)), 1)
    lat_step = grid_m / METRES_PER_DEGREE
    lat = (math.floor(case.lat / lat_step) + 0.5) * lat_step
    lon_step = grid_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    lon = (math.floor(case.lon / lon_step) + 0.5) * lon_step
    return round(lat, 6), round(lon, 6)


def public_address(case: Case) -> str:
    """The place in words as the feed shows it: as published for public space, else only its place
    names (every building, unit and room number hidden)."""
    place = text_scrub(case.place or "")
    if case.matter_id and case.matter.public_space:
        return place
    return mask_address(place)


def open311_may_publish(user, case: Case) -> bool:
    """Who decides what the public sees of a case: whoever may register it (the command centre, the grid
    office), never its handlers."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return action_allowed_as(user, case, "register") is not None


def open311_publication_for(user, case: Case) -> dict | None:
    """The public-feed box of a case page: its state, whether it may be published, and the reason if not;
    None for users who may not decide."""
    if not open311_may_publish(user, case):
        return None
    blocked = publish_blocked_reason(case)
    return {"state": case.publication, "label": Publication(case.publication).label, "at": case.publication_at,
            "by": case.publication_by, "description": case.public_description, "blocked": blocked,
            "can_publish": not blocked and case.publication != Publication.PUBLISHED,
            "can_hide": case.publication == Publication.PUBLISHED}


def publish_blocked_reason(case: Case) -> str:
    """Why a case may not go on the public feed ("" if it may)."""
    if case.channel not in PUBLIC_CHANNELS:
        return _("cases of the %(channel)s channel are never published") % {"channel": case.get_channel_display()}
    if not case.matter_id or not case.matter.public_feed:
        return _("its matter is not published on the public feed")
    if not Case.objects.filter(case_taken_up_q(), pk=case.pk).exists():
        return _("it has not been registered")
    return ""
