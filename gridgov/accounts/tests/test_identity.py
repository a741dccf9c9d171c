"""Identity (MLPS 身份鉴别): failed logins held back by address and by (name, address) with backoff, the
account lock only from many addresses, unlock by an administrator, equal cost of every refusal, two factors
for staff and revealers at every way in, expiring and revocable API tokens, the password policy and its
history and expiry, the password change page, session timeouts, and the audit of all of it."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework.test import APIClient

from config.settings import base as base_settings
from gridgov.accounts import services
from gridgov.accounts.middleware import SEEN, STARTED
from gridgov.accounts.models import PasswordHistory
from gridgov.accounts.security import must_use_two_factors
from gridgov.accounts.tests.factories import login_with_two_factors, make_role, make_staff, totp_code, totp_device
from gridgov.core.models import AuditEntry

pytestmark = pytest.mark.django_db
PASSWORD = "Correct-horse-9"
OWNER, STRANGER = "192.0.2.10", "198.51.100.7"


def _request(address: str):
    return RequestFactory().post("/login/", REMOTE_ADDR=address)


def _login(username: str, password: str, address: str):
    return authenticate(_request(address), username=username, password=password)


def _resident_login(username="plain"):
    """A login that holds neither staff rights nor a revealing role: the password alone logs it in."""
    return services.staff_user_create(username=username, password=PASSWORD, is_staff=False)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# =========================================================================== failures, holds, locks
def test_a_stranger_elsewhere_cannot_lock_the_owner_out(settings):
    # given a login and a stranger who tries wrong passwords for it many times from another address
    settings.LOGIN_FAILURE_LIMIT = 3
    services.staff_user_create(username="grid1", password=PASSWORD)
    for _ in range(12):
        assert _login("grid1", "wrong", STRANGER) is None
    # when the owner logs in from their own address
    user = _login("grid1", PASSWORD, OWNER)
    # then they are in, and the stranger's address is held back even with the right password
    assert user is not None and user.locked_until is None
    assert _login("grid1", PASSWORD, STRANGER) is None


def test_failures_of_one_name_from_one_address_back_off_doubling(settings):
    # given
    settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_BACKOFF_SECONDS = 3, 60
    services.staff_user_create(username="grid2", password=PASSWORD)
    for _ in range(2):
        _login("grid2", "wrong", OWNER)
    assert _login("grid2", PASSWORD, OWNER) is not None  # below the limit nothing is held; success resets
    # when the limit is reached
    for _ in range(3):
        _login("grid2", "wrong", OWNER)
    request = _request(OWNER)
    assert authenticate(request, username="grid2", password=PASSWORD) is None
    first = request.gridgov_login_hold
    request = _request(OWNER)
    authenticate(request, username="grid2", password=PASSWORD)
    # then the right password is held back, for a delay that doubles with each further try
    assert 55 <= first <= 120
    assert request.gridgov_login_hold > first * 1.5
    # and another name from the same address is not held by it
    services.staff_user_create(username="grid3", password=PASSWORD)
    assert _login("grid3", PASSWORD, OWNER) is not None


def test_a_held_back_login_says_when_to_try_again_on_the_page_and_at_the_token_endpoint(client, settings):
    # given a name that failed too often from this address
    settings.LOGIN_FAILURE_LIMIT = 2
    _resident_login()
    for _ in range(2):
        client.post(reverse("login"), {"username": "plain", "password": "wrong"}, REMOTE_ADDR=OWNER)
    # when the right password comes from there, on the page and at the token endpoint
    page = client.post(reverse("login"), {"username": "plain", "password": PASSWORD}, REMOTE_ADDR=OWNER)
    token = client.post(reverse("api-token"), {"username": "plain", "password": PASSWORD}, REMOTE_ADDR=OWNER,
                        content_type="application/json")
    # then both say to wait, and no session or token is given
    assert page.status_code == 200 and "Too many failed logins from your address" in page.content.decode()
    assert not _logged_in(client)
    assert token.status_code == 429 and int(token["Retry-After"]) > 0
    assert not AuthToken.objects.exists()


def test_an_address_trying_many_names_is_held_back(settings):
    # given
    settings.LOGIN_ADDRESS_FAILURES = 5
    services.staff_user_create(username="grid4", password=PASSWORD)
    for n in range(5):
        _login(f"nobody{n}", "guess", STRANGER)
    # then from that address even a real login waits; from another it goes through
    assert _login("grid4", PASSWORD, STRANGER) is None
    assert _login("grid4", PASSWORD, OWNER) is not None


def test_the_account_locks_only_after_failures_from_many_addresses_and_loses_its_tokens(settings):
    # given a policy of 6 failures from at least 3 addresses
    settings.LOGIN_ACCOUNT_LOCK_FAILURES, settings.LOGIN_ACCOUNT_LOCK_ADDRESSES = 6, 3
    settings.LOGIN_FAILURE_LIMIT = 10
    user = services.staff_user_create(username="grid5", password=PASSWORD)
    AuthToken.objects.create(user=user)
    for _ in range(6):
        _login("grid5", "wrong", "203.0.113.1")
    user.refresh_from_db()
    assert user.locked_until is None  # many failures from one address: not a lock
    # when failures come from two more addresses
    for address in ("203.0.113.2", "203.0.113.3"):
        for _ in range(3):
            _login("grid5", "wrong", address)
    # then the account is locked, everywhere, its tokens are gone, and the lock is audited
    user.refresh_from_db()
    assert user.locked_until is not None
    assert _login("grid5", PASSWORD, OWNER) is None
    assert not AuthToken.objects.filter(user=user).exists()
    assert AuditEntry.objects.filter(action="accounts.user_locked", target_id=str(user.pk)).exists()


def test_an_administrator_unlocks_an_account_in_the_admin_audited(client):
    # given a locked account and an administrator
    user = services.staff_user_create(username="grid6", password=PASSWORD)
    get_user_model().objects.filter(pk=user.pk).update(locked_until=timezone.now() + dt.timedelta(minutes=30),
                                                        failed_login_count=4)
    admin = get_user_model().objects.create_superuser("root", password=PASSWORD)
    client.force_login(admin)
    # when the admin action "unlock" runs on it
    response = client.post(reverse("admin:accounts_user_changelist"),
                           {"action": "unlock", "_selected_action": [user.pk]}, REMOTE_ADDR=OWNER)
    # then it logs in again, and the audit names the administrator, the address and the lock lifted
    assert response.status_code == 302
    assert _login("grid6", PASSWORD, OWNER) is not None
    entry = AuditEntry.objects.get(action="accounts.user_unlock")
    assert entry.actor == admin and entry.address == OWNER and entry.target_id == str(user.pk)
    assert entry.changes["failed_login_count"] == [4, 0]


class CountingHasher(MD5PasswordHasher):
    """The test hasher, counting every hash it computes (a real check hashes once)."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.mark.parametrize("case", ["real", "wrong", "unknown", "locked", "held"])
def test_every_refusal_costs_one_password_hash_as_a_real_check(settings, case):
    # given
    settings.PASSWORD_HASHERS = ["gridgov.accounts.tests.test_identity.CountingHasher"]
    settings.LOGIN_FAILURE_LIMIT = 2
    user = services.staff_user_create(username="grid7", password=PASSWORD)
    if case == "locked":
        get_user_model().objects.filter(pk=user.pk).update(locked_until=timezone.now() + dt.timedelta(minutes=5))
    if case == "held":
        for _ in range(2):
            _login("grid7", "wrong", OWNER)
    name, password = ("nobody" if case == "unknown" else "grid7"), ("wrong" if case == "wrong" else PASSWORD)
    CountingHasher.calls = 0
    # when
    _login(name, password, OWNER)
    # then
    assert CountingHasher.calls == 1


# =========================================================================== the audit of logins
def test_logins_failures_and_logouts_are_audited_with_the_address_never_the_password(client):
    # given
    user = _resident_login()
    # when a failure for an unknown name, one for the real user, a login and a logout
    client.post(reverse("login"), {"username": "mistyped-name", "password": "S3cret-typed!"}, REMOTE_ADDR=OWNER)
    client.post(reverse("login"), {"username": "plain", "password": "S3cret-typed!"}, REMOTE_ADDR=OWNER)
    client.post(reverse("login"), {"username": "plain", "password": PASSWORD}, REMOTE_ADDR=OWNER)
    client.post(reverse("logout"), REMOTE_ADDR=OWNER)
    # then
    rows = list(AuditEntry.objects.filter(action__startswith="accounts.log").order_by("id"))
    assert [r.action for r in rows] == ["accounts.login_failed", "accounts.login_failed", "accounts.login",
                                        "accounts.logout"]
    assert all(r.address == OWNER for r in rows)
    unknown, known = rows[0], rows[1]
    assert unknown.target_id == "" and len(unknown.changes["name_digest"]) == 16
    assert known.target_id == str(user.pk)
    text = " ".join(f"{r.summary} {r.changes}" for r in rows)
    assert "S3cret-typed!" not in text and "mistyped-name" not in text


# =========================================================================== two factors
def test_who_must_use_two_factors(tree):
    revealer_role = make_role(tree["g1"].scheme, key="reveals", levels=("grid",))
    revealer_role.reveals_personal_data = True
    revealer_role.save()
    revealer = make_staff(tree["g1"], role=revealer_role)
    get_user_model().objects.filter(pk=revealer.pk).update(is_staff=False)
    revealer.refresh_from_db()
    assert must_use_two_factors(revealer)
    assert must_use_two_factors(services.staff_user_create(username="office", password=PASSWORD))
    assert not must_use_two_factors(_resident_login())


def test_a_login_that_set_up_an_app_of_its_own_accord_is_asked_for_its_code(client, settings):
    # given a login that needs no second factor, who sets up an authenticator app from the account page
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = _resident_login("volunteer")
    assert client.post(reverse("login"), {"username": "volunteer", "password": PASSWORD}).status_code == 302
    assert _logged_in(client)
    assert client.get(reverse("login-enrol")).status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post(reverse("login-enrol"), {"code": totp_code(device)}).status_code == 302
    client.logout()
    # when it logs in again with the password
    response = client.post(reverse("login"), {"username": "volunteer", "password": PASSWORD})
    # then the code of that app is asked for before any session exists, and the token endpoint wants it too
    assert response.status_code == 302 and response["Location"] == reverse("login-verify")
    assert not _logged_in(client)
    token = APIClient().post(reverse("api-token"), {"username": "volunteer", "password": PASSWORD}, format="json")
    assert token.status_code == 400 and "otp" in token.json()


def test_staff_without_an_authenticator_set_one_up_right_after_the_password(client, settings):
    # given a staff login with no device (and no pause between codes: django-otp's own throttle off here)
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = services.staff_user_create(username="office1", password=PASSWORD)
    # when the password is right
    response = client.post(reverse("login"), {"username": "office1", "password": PASSWORD})
    # then no session yet: the enrolment page with a QR code drawn here
    assert response.status_code == 302 and response["Location"] == reverse("login-enrol")
    assert not _logged_in(client)
    page = client.get(reverse("login-enrol"))
    assert page.status_code == 200 and "<svg" in page.content.decode() and "http" not in page.context["secret"]
    # when the code of the new app is typed (a wrong one first)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post(reverse("login-enrol"), {"code": "000000"}).status_code == 400
    assert not _logged_in(client)
    response = client.post(reverse("login-enrol"), {"code": totp_code(device)})
    # then the device is confirmed, the user is in, and both are audited
    assert response.status_code == 302 and _logged_in(client)
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEntry.objects.filter(action="accounts.two_factor_enrol", target_id=str(user.pk)).exists()
    assert AuditEntry.objects.get(action="accounts.login").changes == {"how": "session", "two_factor": True}


def test_a_wrong_code_does_not_log_in_and_too_many_send_back_to_the_password(client, settings):
    # given a staff login with a device, past the password step
    settings.LOGIN_FAILURE_LIMIT = 3
    user = services.staff_user_create(username="office2", password=PASSWORD)
    device = totp_device(user)
    client.post(reverse("login"), {"username": "office2", "password": PASSWORD})
    # when wrong codes are typed
    statuses = [client.post(reverse("login-verify"), {"code": totp_code(device, step_offset=-10)}).status_code
                for _ in range(3)]
    # then no session, and after the limit the login starts over
    assert statuses[:2] == [400, 400] and statuses[2] == 302
    assert not _logged_in(client)
    assert client.get(reverse("login-verify"))["Location"] == reverse("login")


def test_the_admin_login_is_the_same_flow_with_two_factors(client):
    # given a superuser with a device
    admin = get_user_model().objects.create_superuser("root", password=PASSWORD)
    device = totp_device(admin)
    # when the password is given on the admin's login page
    response = client.post(reverse("admin:login") + "?next=/admin/", {"username": "root", "password": PASSWORD})
    # then the code is asked before any session, and after it the admin opens
    assert response["Location"] == reverse("login-verify") and not _logged_in(client)
    response = client.post(reverse("login-verify"), {"code": totp_code(device)})
    assert response["Location"] == "/admin/" and client.get("/admin/").status_code == 200
    assert AuditEntry.objects.get(action="accounts.login").changes["how"] == "admin"


def test_a_two_factor_reset_by_an_administrator_is_audited_and_the_next_login_enrols_again(client):
    # given a staff login with a device, and an administrator
    user = services.staff_user_create(username="office3", password=PASSWORD)
    totp_device(user)
    admin = get_user_model().objects.create_superuser("root", password=PASSWORD)
    client.force_login(admin)
    # when the admin resets it
    client.post(reverse("admin:accounts_user_changelist"), {"action": "reset_two_factor", "_selected_action": [user.pk]})
    # then
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert AuditEntry.objects.get(action="accounts.two_factor_reset").actor == admin
    other = Client()
    assert other.post(reverse("login"), {"username": "office3", "password": PASSWORD})["Location"] == \
        reverse("login-enrol")


# =========================================================================== API tokens
def _token(client, username, password=PASSWORD, **extra):
    return client.post(reverse("api-token"), {"username": username, "password": password, **extra},
                       content_type="application/json")


def test_the_token_endpoint_asks_staff_for_the_second_factor(client):
    # given a staff login with a device
    user = services.staff_user_create(username="office4", password=PASSWORD)
    device = totp_device(user)
    # when a token is asked for without, then with, the code
    without = _token(client, "office4")
    with_code = _token(client, "office4", otp=totp_code(device))
    # then only the second gives an expiring token, and it works
    assert without.status_code == 400 and "otp" in without.json()
    assert with_code.status_code == 200 and set(with_code.json()) == {"token", "expiry"}
    token = with_code.json()["token"]
    assert client.get("/api/accounts/roles/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    assert AuthToken.objects.get(user=user).expiry is not None


def test_staff_who_never_enrolled_get_no_token(client):
    services.staff_user_create(username="office5", password=PASSWORD)
    assert _token(client, "office5").status_code == 403


@pytest.mark.parametrize("event", ["password", "lock", "deactivate", "expiry"])
def test_a_token_ends_with_a_password_change_a_lock_a_deactivation_or_its_expiry(client, event):
    # given a valid token
    user = _resident_login()
    token = _token(client, "plain").json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert client.get("/api/accounts/roles/", **auth).status_code == 200
    # when
    if event == "password":
        user.set_password("Another-horse-7")  # whichever path changes it (here: the admin's, the shell's)
        user.save()
    elif event == "lock":
        get_user_model().objects.filter(pk=user.pk).update(locked_until=timezone.now() + dt.timedelta(minutes=5))
    elif event == "deactivate":
        get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    else:
        AuthToken.objects.filter(user=user).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    # then (403 rather than 401: the API also takes sessions, which have no challenge header)
    assert client.get("/api/accounts/roles/", **auth).status_code in (401, 403)


# =========================================================================== password policy
def test_the_mlps_policy_wants_8_characters_of_3_classes_no_common_one_and_no_reuse_of_the_last_5():
    user = _resident_login()
    with pytest.raises(ValidationError, match="too few kinds"):
        validate_password("abcdefgh1", user)
    with pytest.raises(ValidationError):
        validate_password("Ab1!", user)
    with pytest.raises(ValidationError, match="too common"):
        validate_password("Password1", user)  # three classes, but on every list of leaked passwords
    validate_password("Bzqtwmk7", user)
    # history: each of the last 5 is refused, the one before is allowed again
    passwords = [f"Pass-word-{n}x" for n in range(6)]
    for password in passwords:
        services.user_password_change(user=user, password=password)
    for password in passwords[1:]:
        with pytest.raises(ValidationError, match="used before"):
            validate_password(password, user)
    validate_password(passwords[0], user)
    assert PasswordHistory.objects.filter(user=user).count() == 5


def test_the_asvs_preset_wants_12_characters_no_composition_and_no_common_password(settings):
    settings.AUTH_PASSWORD_VALIDATORS = base_settings._PASSWORD_PRESETS["ASVS"]["validators"]
    with pytest.raises(ValidationError):
        validate_password("Abcdefg1!")  # fine for MLPS, too short here
    with pytest.raises(ValidationError):
        validate_password("password1234")
    validate_password("correct horse battery staple")
    assert base_settings._PASSWORD_PRESETS["ASVS"]["max_age_days"] == 0


def test_an_expired_password_is_changed_before_the_login_completes(client, settings):
    # given a password set 91 days ago under a 90-day policy
    settings.PASSWORD_MAX_AGE_DAYS = 90
    user = _resident_login()
    get_user_model().objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - dt.timedelta(days=91))
    # when the password is right
    response = client.post(reverse("login"), {"username": "plain", "password": PASSWORD})
    # then a new one is asked before any session; the old one again is refused
    assert response["Location"] == reverse("login-password") and not _logged_in(client)
    again = client.post(reverse("login-password"), {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert again.status_code == 400 and not _logged_in(client)
    done = client.post(reverse("login-password"), {"new_password1": "Fresh-horse-8", "new_password2": "Fresh-horse-8"})
    assert done.status_code == 302 and _logged_in(client)
    user.refresh_from_db()
    assert timezone.now() - user.password_changed_at < dt.timedelta(minutes=1)


def test_the_password_change_page_ends_other_sessions_and_tokens(client):
    # given a user logged in twice and holding a token
    user = _resident_login()
    other = Client()
    other.force_login(user)
    client.force_login(user)
    AuthToken.objects.create(user=user)
    # when the old password is wrong, then right
    wrong = client.post(reverse("password-change"), {"old_password": "nope", "new_password1": "Fresh-horse-8",
                                                     "new_password2": "Fresh-horse-8"})
    assert wrong.status_code == 400
    response = client.post(reverse("password-change"), {"old_password": PASSWORD, "new_password1": "Fresh-horse-8",
                                                        "new_password2": "Fresh-horse-8"})
    # then this session goes on, the other and the token end, and it is audited
    assert response.status_code == 302
    assert client.get(reverse("password-change")).status_code == 200
    assert other.get(reverse("password-change")).status_code == 302
    assert not AuthToken.objects.filter(user=user).exists()
    assert AuditEntry.objects.filter(action="accounts.password_change", target_id=str(user.pk)).exists()


def test_the_admin_password_change_is_the_same_page(client):
    user = _resident_login()
    client.force_login(user)
    response = client.post(reverse("admin:password_change"), {"old_password": PASSWORD,
                                                              "new_password1": "Fresh-horse-8",
                                                              "new_password2": "Fresh-horse-8"})
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="accounts.password_change", target_id=str(user.pk)).exists()


# =========================================================================== sessions
@pytest.mark.parametrize(("idle_minutes", "kept"), [(29, True), (31, False)])
def test_a_session_ends_after_30_idle_minutes_and_slides_with_use(client, idle_minutes, kept):
    # given a session last used `idle_minutes` ago
    user = _resident_login()
    client.force_login(user)
    session = client.session
    session[SEEN] = int(time.time()) - idle_minutes * 60
    session[STARTED] = int(time.time()) - 3600
    session.save()
    # when
    response = client.get(reverse("password-change"))
    # then
    assert (response.status_code == 200) is kept
    if kept:
        assert int(time.time()) - client.session[SEEN] < 5  # moved on
    else:
        assert AuditEntry.objects.get(action="accounts.logout").changes == {"why": "idle"}


def test_a_session_ends_after_the_absolute_age_however_busy(client, settings):
    user = _resident_login()
    client.force_login(user)
    session = client.session
    session[SEEN] = int(time.time())
    session[STARTED] = int(time.time()) - settings.SESSION_COOKIE_AGE - 1
    session.save()
    assert client.get(reverse("password-change")).status_code == 302


def test_login_with_two_factors_helper_lands_logged_in(client):
    user = services.staff_user_create(username="office6", password=PASSWORD)
    response = login_with_two_factors(client, user, PASSWORD)
    assert response.status_code == 200 and _logged_in(client)


def test_the_admin_shows_no_totp_secret(client):
    admin = get_user_model().objects.create_superuser("root", password=PASSWORD)
    totp_device(admin)
    client.force_login(admin)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404


@pytest.mark.django_db
def test_issuing_a_token_deletes_the_users_expired_ones_and_a_request_reads_one_row():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from gridgov.accounts.tokens import token_issue

    # given a user with an expired token and a live one
    user = get_user_model().objects.create_user(username="tokens", password="Grid-demo-2026!")
    expired, _old = AuthToken.objects.create(user=user, expiry=dt.timedelta(hours=1))
    AuthToken.objects.filter(pk=expired.pk).update(expiry=timezone.now() - dt.timedelta(minutes=1))
    live, key = AuthToken.objects.create(user=user, expiry=dt.timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    # when a request comes with the live token, its check is one statement and leaves the expired one
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/api/cases/workflow/").status_code == 200
    assert len([q for q in ctx.captured_queries if "knox_authtoken" in q["sql"]]) == 1
    assert AuthToken.objects.filter(pk=expired.pk).exists()
    # when a new token is issued, the expired one goes; the live ones stay
    token_issue(user)
    assert set(AuthToken.objects.filter(user=user).values_list("pk", flat=True)) >= {live.pk}
    assert not AuthToken.objects.filter(pk=expired.pk).exists()
