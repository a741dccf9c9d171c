"""Errors of the closed loop that are not plain bad input (those are django ValidationErrors)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class CaseConflict(Exception):
    """The case is not in a state that allows the action, or it changed since the caller read it
    (HTTP 409). `code` is "state" or "version"."""

    def __init__(self, message: str, *, code: str = "state", state: str = "", version: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.state = state
        self.version = version


class ActionForbidden(PermissionDenied):
    """The user holds no grant for this action on this case (HTTP 403)."""
