"""API plumbing shared by every app: errors come back as `{field: [reason, ...]}` with HTTP 400; a case
action refused because the case is in another state or changed meanwhile is a 409."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """Let services raise Django's ValidationError (naming the field and the reason) and have the API
    answer 400 with the same field → messages mapping as serializer errors; `CaseConflict` answers 409
    with the message, its code ("state" or "version") and the case's current state and version, so a
    client can reload and retry."""
    from gridgov.cases.errors import CaseConflict  # core must not import the cases app at load time

    if isinstance(exc, CaseConflict):
        return Response({"detail": str(exc.message), "code": exc.code, "state": exc.state or None,
                         "version": exc.version}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {field: [str(m) for e in errors for m in e.messages] for field, errors in exc.error_dict.items()}
        else:
            detail = {"non_field_errors": [str(m) for m in exc.messages]}
        exc = exceptions.ValidationError(detail=detail)
    return drf_exception_handler(exc, context)


def client_address(request) -> str | None:
    """The caller's address as the proxy in front handed it over (for the access and audit logs)."""
    return request.META.get("REMOTE_ADDR") or None
