"""Writes of the integrations: machine clients (API keys) and the Open311 intake.

- `api_client_create` issues a key once and keeps only its SHA-256 digest; `api_client_authenticate`
  finds the active client of a key and records when it was last used; `api_client_disable` stops one.
- `case_publish` / `case_hide` are the staff's decision what the public feed shows of a case (nothing
  until published; a description scrubbed of personal data), audited.
- `open311_request_create` turns a GeoReport v2 POST into `cases.services.case_report` on behalf of the
  client's service login, and names Open311's own parameters in every error it raises.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from gridgov.cases.models import Case, Channel, Publication
from gridgov.cases.services import IntakeResult, case_report
from gridgov.core.audit import audit_record
from gridgov.integrations.models import ApiClient
from gridgov.integrations.selectors import (
    jurisdiction_resolve,
    open311_may_publish,
    open311_service,
    publish_blocked_reason,
)
from gridgov.people.models import LegalEntity, Resident
from gridgov.people.textscan import text_scrub
from gridgov.privacy import crypto
from gridgov.territory.models import LevelScheme

# channels a machine client may send cases in on (patrol and department reports come from people)
CLIENT_CHANNELS = (Channel.OPEN311, Channel.HOTLINE, Channel.POLICE, Channel.CAMERA)


# =========================================================================== API clients
def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@transaction.atomic
def api_client_create(*, name: str, scheme: LevelScheme | str, channel: str = Channel.OPEN311,
                      username: str = "", actor=None) -> tuple[ApiClient, str]:
    """A new client and its key, returned once: only the key's digest and first characters are kept.
    Without `username` the client gets a service login of its own (no password, no admin access)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("give the client a name")})
    if len(name) > 100:
        raise ValidationError({"name": _("at most 100 characters")})
    if ApiClient.objects.filter(name=name).exists():
        raise ValidationError({"name": _("an API client named %(name)s exists already") % {"name": name}})
    if not isinstance(scheme, LevelScheme):
        found = LevelScheme.objects.filter(key=str(scheme)).first()
        if found is None:
            raise ValidationError({"scheme": _("unknown level scheme %(key)s") % {"key": scheme}})
        scheme = found
    if channel not in CLIENT_CHANNELS:
        raise ValidationError({"channel": _("a client sends cases on one of %(channels)s")
                               % {"channels": ", ".join(CLIENT_CHANNELS)}})
    users = get_user_model().objects
    if username:
        user = users.filter(username=username).first()
        if user is None:
            raise ValidationError({"user": _("unknown login %(username)s") % {"username": username}})
        if not user.is_active:
            raise ValidationError({"user": _("the login %(username)s is disabled") % {"username": username}})
    else:
        base = f"api-{slugify(name)[:60] or 'client'}"
        login, n = base, 1
        while users.filter(username=login).exists():
            n += 1
            login = f"{base}-{n}"
        user = users.create_user(username=login, password=None)  # no password: the login never signs in
    key = secrets.token_urlsafe(32)
    client = ApiClient.objects.create(name=name, scheme=scheme, channel=channel, key_digest=key_digest(key),
                                      key_prefix=key[:8], user=user)
    audit_record(actor=actor, action="integrations.api_client_create", target=client,
                 summary=f"{name} ({scheme.key}, {channel}) as {user.username}")
    return client, key


def api_client_disable(*, client: ApiClient | str, actor=None) -> ApiClient:
    """Stop a client: its key is refused from now on (the row stays, its cases keep pointing at it)."""
    if not isinstance(client, ApiClient):
        found = ApiClient.objects.filter(name=str(client)).first()
        if found is None:
            raise ValidationError({"name": _("unknown API client %(name)s") % {"name": client}})
        client = found
    if client.active:
        client.active = False
        client.save(update_fields=["active"])
        audit_record(actor=actor, action="integrations.api_client_disable", target=client, summary=client.name)
    return client


def api_client_authenticate(*, key: str) -> ApiClient | None:
    """The active client holding `key`, or None. Records the time of use."""
    if not key or len(key) > 200:
        return None
    client = (ApiClient.objects.select_related("scheme", "user")
              .filter(key_digest=key_digest(key), active=True, user__is_active=True).first())
    if client is None:
        return None
    now = timezone.now()
    ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
    client.last_used_at = now
    return client


# =========================================================================== Open311 intake
@dataclass
class Open311Submission:
    """The parameters of a GeoReport v2 POST, as strings; `attributes` maps a code to a value or a list."""

    jurisdiction_id: str = ""
    service_code: str = ""
    lat: str = ""
    long: str = ""
    address_string: str = ""
    address_id: str = ""
    email: str = ""
    device_id: str = ""
    account_id: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    description: str = ""
    media_url: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


# case_report's field → the Open311 parameter a client sent it as
_FIELDS = {"matter": "service_code", "node": "address_id", "description": "description", "attributes": "attribute",
           "reporter_phone": "phone", "reporter_name": "first_name/last_name", "external_ref": "device_id",
           "idempotency_key": "Idempotency-Key", "scheme": "jurisdiction_id", "photos": "media_url",
           "place": "address_string"}
_CJK = re.compile(r"[\u3400-\u9fff]")


def _parameter(name: str, location_field: str) -> str:
    """The Open311 parameter an error of `case_report` is about."""
    if name == "location":
        return location_field
    if name.startswith("attributes."):
        return f"attribute[{name.removeprefix('attributes.')}]"
    return _FIELDS.get(name, name)


def _err(name: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({name: ValidationError(message, code=code)})


def jurisdiction_for_client(client: ApiClient, given: str) -> LevelScheme:
    """The client's scheme, checked against the jurisdiction it names (required when the deployment has
    several)."""
    given = (given or "").strip()
    if not given:
        jurisdiction_resolve("")  # refuses when the endpoint serves several jurisdictions
    elif given != client.scheme.key:
        raise _err("jurisdiction_id", _("the api_key is registered for jurisdiction %(mine)s, not %(given)s")
                   % {"mine": client.scheme.key, "given": given})
    return client.scheme


def _point(sub: Open311Submission) -> tuple[float | None, float | None]:
    lat, lon = sub.lat.strip(), sub.long.strip()
    if not lat and not lon:
        return None, None
    if not lat or not lon:
        raise _err("lat/long", _("give both lat and long"))
    try:
        lat_f, lon_f = float(lat), float(lon)
    except ValueError:
        raise _err("lat/long", _("not a number")) from None
    if not (math.isfinite(lat_f) and math.isfinite(lon_f)) or abs(lat_f) > 90 or abs(lon_f) > 180:
        raise _err("lat/long", _("out of range (lat -90 to 90, long -180 to 180)"))
    return lon_f, lat_f


def _reporter_name(first: str, last: str) -> str:
    first, last = first.strip(), last.strip()
    if _CJK.search(first + last):
        return f"{last}{first}"  # 张 + 三 → 张三: family name first, no space
    return f"{first} {last}".strip()


def open311_request_create(*, client: ApiClient, submission: Open311Submission,
                           idempotency_key: str = "") -> IntakeResult:
    """A service request from an Open311 client: a case reported by the client's service login on its
    channel. The media_url is kept as a link among the case's attributes (never downloaded); the
    reporter's name and phone go to `case_report`, which seals them; the e-mail address is not kept.
    Every error names the Open311 parameter at fault."""
    sub = submission
    scheme = jurisdiction_for_client(client, sub.jurisdiction_id)
    code = sub.service_code.strip()
    if not code:
        raise _err("service_code", _("required"))
    matter = open311_service(scheme, code)
    if matter is None:
        raise _err("service_code", _("unknown service %(code)s") % {"code": code[:20]})
    lon, lat = _point(sub)
    address_id, place = sub.address_id.strip(), sub.address_string.strip()
    if lon is None and not address_id and not place:
        raise _err("lat/long", _("give lat and long, address_string or address_id"))
    attributes = dict(sub.attributes)  # checked by the intake, as on every channel
    media_url = sub.media_url.strip()
    if media_url:
        try:
            if len(media_url) > 1000:
                raise ValidationError("too long")
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            raise _err("media_url", _("not an http(s) address")) from None
        attributes["media_url"] = media_url
    location_field = "lat/long" if lon is not None else ("address_id" if address_id else "address_string")
    try:
        return case_report(
            actor=client.user, channel=client.channel, scheme=scheme, matter=matter,
            description=sub.description.strip() or matter.name_zh or matter.name_en,
            node=address_id or None, lon=lon, lat=lat, place=place,
            reporter_name=_reporter_name(sub.first_name, sub.last_name), reporter_phone=sub.phone.strip(),
            external_ref=(sub.device_id.strip() or sub.account_id.strip())[:64], attributes=attributes,
            idempotency_key=idempotency_key, client=f"api:{client.pk}")
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        renamed = {_parameter(name, location_field): errors for name, errors in exc.error_dict.items()}
        raise ValidationError(renamed) from None


# =========================================================================== the public feed: publish / hide
def case_known_names(case: Case) -> list[str]:
    """The names the system knows to be at stake in a case's text: the reporter's own (sealed contact,
    their login's name) and every resident recorded in the case's cell or below it."""
    names = []
    if case.reporter_name_sealed:
        names.append(crypto.unseal(case.reporter_name_sealed, field="cases.case.reporter_name"))
    if case.reporter_id:
        names += [case.reporter.get_full_name(), f"{case.reporter.last_name}{case.reporter.first_name}"]
    names += Resident.objects.filter(node__path__startswith=case.node.path).values_list("name", flat=True)
    names += LegalEntity.objects.filter(node__path__startswith=case.node.path).values_list("representative",
                                                                                            flat=True)
    return [n for n in names if n and n.strip()]


def case_public_description(case: Case, text: str | None = None) -> str:
    """The description as the public may read it: `text` (a staff member's rewording) or the reporter's
    own, with every phone, ID number, e-mail address and name the scan finds hidden — and, unless the
    matter is in public space, every building, unit, floor and room number (a home is not public)."""
    in_public_space = bool(case.matter_id and case.matter.public_space)
    return text_scrub(case.description if text is None else text, names=case_known_names(case),
                      addresses=not in_public_space)


def _publication_locked(case: Case | int) -> Case:
    pk = case.pk if isinstance(case, Case) else int(case)
    return Case.objects.select_for_update(of=("self",)).select_related("matter", "node", "reporter").get(pk=pk)


@transaction.atomic
def case_publish(*, case: Case | int, actor, description: str | None = None, address: str | None = None) -> Case:
    """Put a case on the public Open311 feed, as decided by a staff member who may register it. Only a
    registered case of a public matter from a public channel; the description published is scrubbed
    (`case_public_description`) and stored, so the feed shows exactly what the publisher saw. Audited."""
    case = _publication_locked(case)
    if not open311_may_publish(actor, case):
        raise PermissionDenied(_("your role may not publish this case"))
    blocked = publish_blocked_reason(case)
    if blocked:
        raise ValidationError({"publication": _("not published: %(reason)s") % {"reason": blocked}})
    if description is not None and not description.strip():
        raise ValidationError({"public_description": _("give the text to publish, or leave it out")})
    if description is not None and len(description) > 5000:
        raise ValidationError({"public_description": _("at most 5000 characters")})
    old = case.publication
    case.public_description = case_public_description(case, description)
    case.publication, case.publication_at, case.publication_by = Publication.PUBLISHED, timezone.now(), actor
    case.save(update_fields=["public_description", "publication", "publication_at", "publication_by"])
    audit_record(actor=actor, action="open311.publish", target=case, summary=case.number,
                 changes={"publication": [old, Publication.PUBLISHED], "reworded": description is not None},
                 address=address)
    return case


@transaction.atomic
def case_hide(*, case: Case | int, actor, reason: str, address: str | None = None) -> Case:
    """Take a case off the public feed (every Open311 read: list, single request, token) until it is
    published again. Needs a reason; audited."""
    case = _publication_locked(case)
    if not open311_may_publish(actor, case):
        raise PermissionDenied(_("your role may not hide this case"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("say why the case is hidden")})
    if len(reason) > 300:
        raise ValidationError({"reason": _("at most 300 characters")})
    old = case.publication
    case.publication, case.publication_at, case.publication_by = Publication.HIDDEN, timezone.now(), actor
    case.public_description = ""
    case.save(update_fields=["public_description", "publication", "publication_at", "publication_by"])
    audit_record(actor=actor, action="open311.hide", target=case, summary=f"{case.number}: {text_scrub(reason)}",
                 changes={"publication": [old, Publication.HIDDEN]}, address=address)
    return case
