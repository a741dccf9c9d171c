"""Identity rules (MLPS 身份鉴别), each written once: who must log in with two factors, how failed logins are
held back (by address, by name and address, and only as the policy says by locking the account), and how
logins, logouts and failures are written to the audit log (never the password; a typed name only as a
digest unless it is a real user's)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone

from gridgov.core.audit import audit_record
from gridgov.core.ratelimit import (
    ratelimit_clear,
    ratelimit_count,
    ratelimit_hit,
    stamp_get,
    stamp_set,
)


# =========================================================================== two factors
def must_use_two_factors(user) -> bool:
    """Administrators (staff, superusers) and whoever may reveal personal data — through a current
    assignment in a role that reveals, or the reveal permission — log in with a second factor."""
    if user is None or not getattr(user, "pk", None):
        return False
    if user.is_staff or user.is_superuser:
        return True
    from gridgov.accounts.models import Assignment

    if Assignment.objects.current().filter(person__user=user, role__reveals_personal_data=True).exists():
        return True
    return user.has_perm("people.reveal_personal_data")


def two_factor_device(user):
    """The user's confirmed TOTP device, or None when they have not enrolled."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def asks_second_factor(user) -> bool:
    """Whether a login of `user` needs the code of an authenticator app: whoever must use two factors, and
    whoever set one up of their own accord (from the account page) — an enrolled app is never skipped."""
    return must_use_two_factors(user) or two_factor_device(user) is not None


# =========================================================================== failed logins
def name_digest(name: str) -> str:
    """A typed name as the logs may keep it: a keyed digest (the same name gives the same digest)."""
    return hmac.new(settings.SECRET_KEY.encode(), (name or "").strip().lower().encode("utf-8", "surrogatepass"),
                    hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Hold:
    retry_after: int  # seconds


def login_hold(*, username: str, address: str | None) -> Hold | None:
    """Whether a login attempt is held back before any password is checked: the address failed too often
    (whatever names it tried), or this name failed too often from this address (backoff). A stranger
    elsewhere never holds back the owner's address."""
    address = address or "unknown"
    if ratelimit_count(scope="login-address", key=address) >= settings.LOGIN_ADDRESS_FAILURES:
        return Hold(retry_after=settings.LOGIN_WINDOW_MINUTES * 60)
    until = stamp_get(scope="login-hold", key=f"{name_digest(username)}|{address}")
    now = time.time()
    if until and until > now:
        return Hold(retry_after=max(1, int(until - now)))
    return None


def _backoff_seconds(failures: int) -> int:
    """The delay after the `failures`-th failure of one name from one address: none below the limit, then
    LOGIN_BACKOFF_SECONDS doubling with each further failure, at most LOGIN_LOCKOUT_MINUTES."""
    over = failures - settings.LOGIN_FAILURE_LIMIT
    if over < 0:
        return 0
    return min(settings.LOGIN_BACKOFF_SECONDS * 2 ** min(over, 20), settings.LOGIN_LOCKOUT_MINUTES * 60)


def login_failed(*, username: str, user, address: str | None, reason: str) -> None:
    """Count a failed login and log it. The address and the (name, address) pair are counted in the shared
    limits cache; the account's own count only leads to a lock when the failures come from at least
    LOGIN_ACCOUNT_LOCK_ADDRESSES addresses (a lock revokes the account's API tokens)."""
    where = address or "unknown"
    ratelimit_hit(scope="login-address", key=where, limit=settings.LOGIN_ADDRESS_FAILURES,
                  seconds=settings.LOGIN_WINDOW_MINUTES * 60)
    pair = f"{name_digest(username)}|{where}"
    failures = ratelimit_hit(scope="login-pair", key=pair, limit=settings.LOGIN_FAILURE_LIMIT, seconds=24 * 3600).count
    delay = _backoff_seconds(failures)
    if delay:
        stamp_set(scope="login-hold", key=pair, value=time.time() + delay, seconds=delay)
    changes = {"reason": reason}
    if user is None:
        changes["name_digest"] = name_digest(username)
    audit_record(actor=None, action="accounts.login_failed", target=user, changes=changes, address=address,
                 summary="login failed" if user is None else f"login failed for {user.get_username()}")
    if user is not None and reason == "password":
        _count_against_account(user, where)


def _count_against_account(user, address: str) -> None:
    user_model = get_user_model()
    user_model.objects.filter(pk=user.pk).update(failed_login_count=F("failed_login_count") + 1)
    seen = set(stamp_get(scope="login-addresses", key=str(user.pk)) or ())
    seen.add(hashlib.sha256(address.encode()).hexdigest()[:16])
    stamp_set(scope="login-addresses", key=str(user.pk), value=sorted(seen)[:1000], seconds=24 * 3600)
    limit, spread = settings.LOGIN_ACCOUNT_LOCK_FAILURES, settings.LOGIN_ACCOUNT_LOCK_ADDRESSES
    count = user_model.objects.filter(pk=user.pk).values_list("failed_login_count", flat=True).first() or 0
    if limit and count >= limit and len(seen) >= spread:
        until = timezone.now() + dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
        user_model.objects.filter(pk=user.pk).update(locked_until=until, failed_login_count=0)
        stamp_set(scope="login-addresses", key=str(user.pk), value=[], seconds=1)
        from gridgov.accounts.services import user_tokens_revoke

        user_tokens_revoke(user=user)
        audit_record(actor=None, action="accounts.user_locked", target=user,
                     summary=f"{user.get_username()} locked after {count} failed logins from {len(seen)} addresses",
                     changes={"locked_until": until.isoformat(), "failures": count, "addresses": len(seen)})


def login_succeeded_password(*, username: str, user, address: str | None) -> None:
    """The password step passed: this name from this address starts afresh, and so does the account."""
    where = address or "unknown"
    pair = f"{name_digest(username)}|{where}"
    ratelimit_clear(scope="login-pair", key=pair)
    ratelimit_clear(scope="login-hold", key=pair)
    if user.failed_login_count or user.locked_until:
        get_user_model().objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
    ratelimit_clear(scope="login-addresses", key=str(user.pk))


def account_locked(user, *, now: dt.datetime | None = None) -> bool:
    return bool(user.locked_until and user.locked_until > (now or timezone.now()))


# =========================================================================== the log of logins
def login_logged(*, user, address: str | None, how: str, two_factor: bool) -> None:
    """A session or an API token was obtained (`how`: "session", "admin", "token")."""
    audit_record(actor=user, action="accounts.login", target=user, address=address,
                 summary=f"{user.get_username()} logged in ({how})", changes={"how": how, "two_factor": two_factor})


def logout_logged(*, user, address: str | None, why: str = "logout") -> None:
    """A session ended: by the user ("logout"), or by the idle / absolute timeout ("idle", "expired")."""
    if user is None or not getattr(user, "is_authenticated", False):
        return
    audit_record(actor=user, action="accounts.logout", target=user, address=address,
                 summary=f"{user.get_username()} logged out ({why})", changes={"why": why})
