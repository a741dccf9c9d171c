"""What the browser tests share: where screenshots go and how a staff user logs in."""

from __future__ import annotations

from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# the password the test factories give staff logins (gridgov/accounts/tests/factories.py, cases factories)
STAFF_PASSWORD = "Grid-demo-2026!"


def enrolled_device(user):
    """The authenticator app of a login that must use two factors, set up in the database as if the user had
    enrolled (before the password step, so the login asks for a code rather than an enrolment); None for a
    login that needs none."""
    from gridgov.accounts.security import must_use_two_factors, two_factor_device
    from gridgov.accounts.tests.factories import totp_device

    if not must_use_two_factors(user):
        return None
    return two_factor_device(user) or totp_device(user)


def second_factor(page, device) -> None:
    """After the password step: type the current code of `device` (nothing when None)."""
    from gridgov.accounts.tests.factories import totp_code

    if device is None:
        return
    page.wait_for_url("**/login/verify/")
    page.fill("#id_code", totp_code(device))
    page.press("#id_code", "Enter")


def log_in(page, live_server, user, next_url: str | None = None, *, password: str = STAFF_PASSWORD) -> None:
    """Log in through /login/ (password, then the second factor); with `next_url` wait until it is open, else
    until the role's home has loaded."""
    device = enrolled_device(user)
    page.goto(f"{live_server.url}/login/" + (f"?next={next_url}" if next_url else ""))
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    second_factor(page, device)
    if next_url:
        page.wait_for_url(f"**{next_url}")
    page.wait_for_load_state("networkidle")
