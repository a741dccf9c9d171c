"""API plumbing shared by every app: errors come back as `{field: [reason, ...]}` with HTTP 400; a case
action refused because the case is in another state or changed meanwhile is a 409."""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from gridgov.core.errors import Conflict


def exception_handler(exc, context):
    """Let services raise Django's ValidationError (naming the field and the reason) and have the API
    answer 400 with the same field → messages mapping as serializer errors; `core.errors.Conflict` (a case's `CaseConflict` among them) answers 409
    with the message, its code ("state" or "version") and the case's current state and version, so a
    client can reload and retry."""
    if isinstance(exc, Conflict):
        return Response({"detail": str(exc.message), "code": exc.code, "state": exc.state or None,
                         "version": exc.version}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {field: [str(m) for e in errors for m in e.messages] for field, errors in exc.error_dict.items()}
        else:
            detail = {"non_field_errors": [str(m) for m in exc.messages]}
        exc = exceptions.ValidationError(detail=detail)
    return drf_exception_handler(exc, context)


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from exc


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    raw = raw.strip()
    if raw.startswith("[") and "]" in raw:  # [v6]:port
        raw = raw[1:raw.index("]")]
    elif raw.count(":") == 1:  # v4:port
        raw = raw.split(":")[0]
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


def client_address(request) -> str | None:
    """The caller's address: the one rule every log and every rate limit uses.

    `REMOTE_ADDR` unless the peer is one of `TRUSTED_PROXIES`; then `X-Forwarded-For` is read from the right,
    skipping the trusted proxies, and the first address that is not one of them is the client (an address a
    client put at the left of the header is never believed). A malformed hop ends the walk at the last
    trusted proxy seen."""
    remote = _address(request.META.get("REMOTE_ADDR") or "")
    if remote is None:
        return None
    trusted = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))
    if not trusted:
        return str(remote)

    def is_trusted(address) -> bool:
        return any(address.version == net.version and address in net for net in trusted)

    client = remote
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    while is_trusted(client) and hops:
        hop = _address(hops.pop())
        if hop is None:
            break
        client = hop
    return str(client)


class BuiltFieldsOnce:
    """For a ModelSerializer whose fields depend on its class alone (no per-request fields): the fields DRF
    builds from the model on every instantiation (introspecting each model field) are built once per class
    and copied afterwards, as DRF copies declared fields. Answers are unchanged; the CPU of building them is
    not spent on every answer."""

    _built_fields: dict = {}

    def get_fields(self):
        import copy

        cls = type(self)
        template = BuiltFieldsOnce._built_fields.get(cls)
        if template is None:
            template = BuiltFieldsOnce._built_fields[cls] = super().get_fields()
        return copy.deepcopy(template)


class InputFieldsOnce:
    """For an input serializer whose fields depend on its class alone, used without context and never
    partial (a request body): its fields are built and bound once per class and language, to a template
    instance, and every instance validates with them. Validating reads the fields and never changes them,
    so threads share them safely; errors (names, messages) and validated values are those of fields built
    for each instance, which DRF would copy from the declared ones on every request. Per language, because
    a field's length and range messages keep the language they were first shown in. An instance given a
    context, or partial, builds its own."""

    _templates: dict = {}

    @property
    def fields(self):
        from django.utils.translation import get_language
        from rest_framework.serializers import Serializer

        if self._context or self.partial:
            own = self.__dict__.get("_own_fields")
            if own is None:
                own = self.__dict__["_own_fields"] = Serializer.fields.func(self)
            return own
        key = (type(self), get_language())
        fields = InputFieldsOnce._templates.get(key)
        if fields is None:
            fields = InputFieldsOnce._templates[key] = Serializer.fields.func(type(self)())
        return fields
