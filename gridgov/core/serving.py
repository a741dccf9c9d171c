"""May this process serve the site? A debug build or the demo logins never face a network by accident.

`serve_guard(address)` is called by `manage.py runserver` (what `make run HOST=...` starts) with the address
it binds, and by the WSGI / ASGI start-up (gunicorn, uWSGI) with None: the bound address is not known
there, so the server is taken to be reachable from the network. Refused (ImproperlyConfigured) when the
address is not loopback and DEBUG is on (debug pages show settings, local variables and SQL) or active
demo logins exist (well-known usernames whose passwords were printed), unless `ALLOW_PUBLIC_DEMO`
(`GRIDGOV_ALLOW_PUBLIC_DEMO=1`) says that this is a deliberate demo on a network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError


def address_is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; False for 0.0.0.0, ::, any other address or host name,
    and None (unknown)."""
    if not address:
        return False
    host = address.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Apps that ship demo logins register here a function listing the active ones (the seed app does, in its
# AppConfig.ready): core looks them up without importing what lies above it.
DEMO_LOGIN_SOURCES: list[Callable[[], list[str]]] = []


def _demo_logins() -> list[str]:
    try:
        return sorted({name for source in DEMO_LOGIN_SOURCES for name in source()})
    except DatabaseError:  # not migrated yet: no logins at all
        return []


def serve_problems(address: str | None) -> list[str]:
    """Why serving on `address` would expose a debug build or demo logins (empty: nothing to refuse)."""
    if address_is_loopback(address) or settings.ALLOW_PUBLIC_DEMO:
        return []
    problems = []
    if settings.DEBUG:
        problems.append("DEBUG is on (debug pages show settings, local variables and SQL)")
    demo = _demo_logins()
    if demo:
        shown = ", ".join(demo[:5]) + (f" and {len(demo) - 5} more" if len(demo) > 5 else "")
        problems.append(f"demo logins are active ({shown}); their passwords were printed")
    return problems


# Set once `runserver` has checked the address it binds: it then loads config.wsgi itself, whose start-up
# check must not treat that loopback server as one of unknown address.
_checked_by_runserver = False


def serve_guard_runserver(address: str) -> None:
    """`runserver`'s check of the address it is about to bind (see the module docstring)."""
    global _checked_by_runserver
    serve_guard(address)
    _checked_by_runserver = True


def serve_guard_startup() -> None:
    """The WSGI / ASGI start-up check: the address is unknown, unless `runserver` checked it already."""
    if not _checked_by_runserver:
        serve_guard(None)


def serve_guard(address: str | None) -> None:
    """Raise ImproperlyConfigured, naming each reason, when serving on `address` must be refused."""
    problems = serve_problems(address)
    if problems:
        where = f"on {address}" if address else "through WSGI / ASGI (an address reachable from the network)"
        raise ImproperlyConfigured(
            f"refusing to serve {where}: " + "; ".join(problems) + ". Serve on 127.0.0.1, turn DEBUG off and "
            "deactivate or delete the demo logins, or set GRIDGOV_ALLOW_PUBLIC_DEMO=1 for a deliberate demo.")
