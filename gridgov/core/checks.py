"""System checks of the deployment's own settings and security set-up: the public address, audit retention,
the installation superuser next to the three administrators, district-wide logins without a scheme."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error as CheckError
from django.core.checks import Warning as CheckWarning
from django.core.checks import register
from django.db import DatabaseError

from gridgov.core.audit import MIN_RETENTION_DAYS


@register("gridgov")
def site_url_set(app_configs, **kwargs):
    """QR codes on printed cell cards and links in SMS need the public address; without SITE_URL the cards
    take it from each request, which is right only if staff print them from the public address."""
    if settings.SITE_URL:
        return []
    return [CheckWarning(
        "SITE_URL is not set: printed cell cards take their QR code's address from the request that printed "
        "them, and SMS to reporters carry the tracking page's path without the site's address",
        hint="Set SITE_URL to the public address residents reach, e.g. SITE_URL=https://grid.example.gov.cn",
        id="core.W001")]


@register("gridgov")
def audit_retention(app_configs, **kwargs):
    days = getattr(settings, "AUDIT_RETENTION_DAYS", MIN_RETENTION_DAYS)
    if not isinstance(days, int) or days < MIN_RETENTION_DAYS:
        return [CheckError(f"AUDIT_RETENTION_DAYS is {days!r}: the security audit log is kept at least "
                           f"{MIN_RETENTION_DAYS} days (MLPS level 3)", id="gridgov.E011")]
    return []


@register("gridgov")
def administrators(app_configs, **kwargs):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    try:
        roles = set(users.exclude(admin_role="").values_list("admin_role", flat=True))
        superusers = list(users.filter(is_superuser=True).values_list("username", flat=True)[:5])
        schemeless = list(users.filter(sees_everything=True, scheme__isnull=True, platform_wide=False,
                                       is_superuser=False).values_list("username", flat=True)[:5])
    except DatabaseError:  # not migrated yet
        return []
    found = []
    if superusers and roles >= {"SYSTEM", "SECURITY", "AUDIT"}:
        found.append(CheckWarning(
            f"active superuser(s) {', '.join(superusers)} next to the system, security and audit administrators",
            hint="The superuser is for installation only: once the three administrators exist, deactivate it "
                 "(admin → users, untick 'active').", id="gridgov.W011"))
    if schemeless:
        found.append(CheckWarning(
            f"district-wide login(s) {', '.join(schemeless)} have no scheme and see no more than their assignments",
            hint="Set the scheme the login works in (admin → users → scheme).", id="gridgov.W012"))
    return found
