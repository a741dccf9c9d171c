"""Errors of the closed loop that are not plain bad input (those are django ValidationErrors)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from gridgov.core.errors import Conflict


class CaseConflict(Conflict):
    """The case is not in a state that allows the action, or it changed since the caller read it
    (HTTP 409). `code` is "state" or "version"."""


class ActionForbidden(PermissionDenied):
    """The user holds no grant for this action on this case (HTTP 403)."""
