"""Separation of the three administrators (三员分立, MLPS level 3): the one place deciding what an
administrator role may do.

- The **system administrator** configures (territory, catalogue, policies, routing rules, calendars,
  people in charge ...) as far as their permissions reach, but never grants (logins, groups, permissions,
  action grants, API clients, tokens, 2FA devices, revealing roles) and never reads the audit log.
- The **security administrator** grants (the GRANT models below, implicitly) and does nothing else.
- The **audit administrator** reads and exports the audit log and the personal-data access log
  (implicitly) and does nothing else.

One account holds at most one of them (`User.admin_role` is a single column). Every check goes through
`User.has_perm` → `admin_role_allows`, so every ModelAdmin's `has_*_permission`, every view and every
API permission that asks `has_perm` obeys it. The Django superuser is for installation only: it keeps
Django's meaning (everything) and a system check warns while one is active next to the three
administrators (`accounts.checks`)."""

from __future__ import annotations

# models whose rows give someone power: only the security administrator (or the installation superuser)
GRANT_MODELS = frozenset({
    "auth.group", "auth.permission", "accounts.user", "cases.actiongrant", "integrations.apiclient",
    "authtoken.token", "authtoken.tokenproxy", "knox.authtoken", "otp_totp.totpdevice", "otp_static.staticdevice",
})
# where configuration and grants meet: the security administrator assigns (and ends) roles that reveal
# personal data and sets a role's revealing flag; everything else on these pages is the system administrator's
SECURITY_ALSO = {"accounts.assignment": {"view", "add", "change"}, "accounts.role": {"view", "change"},
                 "accounts.person": {"view"}}
GRANT_APPS = frozenset({"auth", "accounts", "cases", "integrations", "authtoken", "knox", "otp_totp", "otp_static"})
# the audit records: read (and exported) by the audit administrator
AUDIT_MODELS = frozenset({"core.auditentry", "privacy.accesslog", "admin.logentry"})
AUDIT_READ_PERMS = frozenset({"core.view_auditentry", "core.export_auditentry", "privacy.view_accesslog",
                              "admin.view_logentry"})
AUDIT_APPS = frozenset({"core", "people", "admin"})
# the security audit log proper is for the audit administrator only, whoever else holds its permissions
AUDIT_ONLY_MODELS = frozenset({"core.auditentry", "admin.logentry"})


def _model_key(perm: str) -> str:
    app_label, _, codename = perm.partition(".")
    return f"{app_label}.{codename.partition('_')[2]}"


def admin_role_allows(user, perm: str) -> bool | None:
    """True / False when the user's administrator role decides `perm` ('app.codename'); None when it does not
    and the ordinary permissions decide. Inactive users and the installation superuser are left to Django."""
    if user is None or not getattr(user, "is_active", False) or getattr(user, "is_superuser", False):
        return None
    role = getattr(user, "admin_role", "")
    key = _model_key(perm)
    if role == "AUDIT":
        return perm in AUDIT_READ_PERMS
    if role == "SECURITY":
        return key in GRANT_MODELS or perm.partition(".")[2].partition("_")[0] in SECURITY_ALSO.get(key, ())
    if key in AUDIT_ONLY_MODELS:
        return False
    if role == "SYSTEM" and (key in GRANT_MODELS or key in AUDIT_MODELS):
        return False
    if not role and key in {"auth.group", "auth.permission"}:
        return False  # only the security administrator edits groups: a group holder could raise themselves
    return None


def admin_role_allows_module(user, app_label: str) -> bool | None:
    """Which admin index sections a role sees at all (None: the ordinary permissions decide)."""
    if user is None or not getattr(user, "is_active", False) or getattr(user, "is_superuser", False):
        return None
    role = getattr(user, "admin_role", "")
    if role == "AUDIT":
        return app_label in AUDIT_APPS
    if role == "SECURITY":
        return app_label in GRANT_APPS
    return None


def admin_role_may_grant(actor) -> bool:
    """May `actor` give or take powers (permissions, groups, flags, administrator roles, revealing roles)?
    Only the security administrator, and the installation superuser; `None` is the system itself
    (migrations, seed commands)."""
    if actor is None:
        return True
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    return bool(actor.is_superuser or getattr(actor, "admin_role", "") == "SECURITY")


def admin_role_may_configure(actor) -> bool:
    """May `actor` change configuration at all? Not the security or audit administrator."""
    return getattr(actor, "admin_role", "") not in ("SECURITY", "AUDIT")
