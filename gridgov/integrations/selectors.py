"""Reads behind the Open311 GeoReport v2 endpoint. Everything is read within one jurisdiction (a
level scheme): its catalogue's active matters are the services, its cases the service requests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Max, QuerySet
from django.utils.translation import gettext as _

from gridgov.cases.models import OPEN_STATES, Case, Channel
from gridgov.cases.policy import policy_catalogue, policy_for
from gridgov.catalogue.models import Catalogue, Matter
from gridgov.territory.models import LevelScheme

MAX_REQUESTS = 1000
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
    catalogue = policy_catalogue(policy_for(scheme))
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


def _cases(scheme: LevelScheme) -> QuerySet[Case]:
    return (Case.objects.filter(scheme=scheme, channel__in=PUBLIC_CHANNELS)
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
    return Case.objects.filter(scheme=scheme, tracking_code=token).first()
