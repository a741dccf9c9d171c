"""Errors every app may raise beside Django's ValidationError (bad input, naming the field)."""

from __future__ import annotations


class Conflict(Exception):
    """The record is not in a state that allows the action, or it changed since the caller read it
    (HTTP 409, answered by `core.api.exception_handler` with the message, the code and the record's current
    state and version, so a client can reload and retry). `code` is "state" or "version"."""

    def __init__(self, message: str, *, code: str = "state", state: str = "", version: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.state = state
        self.version = version
