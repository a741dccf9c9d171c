"""Session timeouts: a session ends after SESSION_IDLE_MINUTES without a request (sliding: each request
moves the deadline) and SESSION_COOKIE_AGE after it began at the latest, whatever the activity."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout

from gridgov.accounts.security import logout_logged
from gridgov.core.api import client_address

SEEN = "gridgov_seen_at"
STARTED = "gridgov_started_at"


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
                if seen is None or now - seen >= 30:  # sliding, without writing the session on every request
                    session[SEEN] = now
        return self.get_response(request)
