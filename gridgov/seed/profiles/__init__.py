"""The five seed systems as loadable profiles: `manage.py load_profile NAME`.

Each module declares one `Profile` (level scheme, vocabularies, role catalogue, demo logins, and how to
build its territory and people on the real administrative codes); `base` holds the shared machinery.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from gridgov.seed.profiles import haimen, licheng, luohu, pinggu, xiangyang
from gridgov.seed.profiles.base import (
    LoadReport,
    Profile,
    demo_password_new,
    demo_passwords_read,
    profile_demo_logins,
    profile_load,
    profile_report,
    profile_scheme,
    profile_unload,
)

# in the order of the seeds: 000 Haimen, 001 Licheng, 002 Xiangyang, 003 Pinggu, 004 Luohu
PROFILES: dict[str, Profile] = {p.key: p for p in (haimen.PROFILE, licheng.PROFILE, xiangyang.PROFILE,
                                                    pinggu.PROFILE, luohu.PROFILE)}


def demo_logins_active() -> list[str]:
    """Usernames of active demo logins of any shipped profile (well-known names, printed passwords): a server
    reachable from the network must not run with them unless explicitly allowed."""
    names = {lg.username for p in PROFILES.values() for lg in p.logins}
    return sorted(get_user_model().objects.filter(username__in=names, is_active=True)
                  .values_list("username", flat=True))


def profile_get(name: str) -> Profile:
    """The profile called `name`; KeyError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


__all__ = ["PROFILES", "LoadReport", "Profile", "demo_logins_active", "demo_password_new", "demo_passwords_read", "profile_demo_logins", "profile_get", "profile_load",
           "profile_report", "profile_scheme", "profile_unload"]
