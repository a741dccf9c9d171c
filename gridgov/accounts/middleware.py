"""Session timeouts: a session ends after SESSION_IDLE_MINUTES without a request (sliding: each request
moves the deadline) and SESSION_COOKIE_AGE after it began at the latest, whatever the activity."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from gridgov.accounts.security import logout_logged
from gridgov.core.api import client_address

SEEN = "gridgov_seen_at"
STARTED = "gridgov_started_at"
# the last use is written at most this often (seconds), so a session is not saved on every request
SEEN_GRANULARITY = 60


@receiver(user_logged_in, dispatch_uid="gridgov_session_clock")
def _start_clock(sender, request, user, **kwargs):
    """Both clocks start with the session, in the same save as the login itself (whatever logged in)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[STARTED] = session[SEEN] = int(time.time())


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            now = int(time.time())
            seen, started = session.get(SEEN), session.get(STARTED)
            idle = settings.SESSION_IDLE_MINUTES * 60
            why = ("idle" if idle and seen is not None and now - seen > idle
                   else "expired" if started is not None and now - started > settings.SESSION_COOKIE_AGE
                   else None)
            if why:
                logout_logged(user=request.user, address=client_address(request), why=why)
                logout(request)
            else:
                if started is None:
                    session[STARTED] = now
                if seen is None or now - seen >= SEEN_GRANULARITY:  # sliding, without a write on every request
                    session[SEEN] = now
        return self.get_response(request)
