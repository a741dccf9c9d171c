"""Builders for people in charge and logins in tests."""

from __future__ import annotations

import itertools

from django.contrib.auth.models import Permission

from gridgov.accounts import services
from gridgov.accounts.models import Role, RoleCategory

_n = itertools.count(1)


def make_role(scheme, key="grid_worker", *, levels=("grid",), grants_scope=True) -> Role:
    existing = Role.objects.filter(scheme=scheme, key=key).first()
    if existing:
        return existing
    return services.role_create(scheme=scheme, key=key, name_zh="网格员", name_en="Grid worker",
                                category=RoleCategory.GRID_WORKER, levels=levels, grants_scope=grants_scope)


def make_revealing_role(scheme, key="reveal_worker", *, levels=("community", "grid")) -> Role:
    """A grid-worker role whose holders may reveal personal data in their cells (set directly, as a fixture:
    the service that sets the flag belongs to the security administrator and is tested on its own)."""
    role = make_role(scheme, key=key, levels=levels)
    if not role.reveals_personal_data:
        role.reveals_personal_data = True
        role.save(update_fields=["reveals_personal_data"])
    return role


def make_staff(node, *, role=None, perms=(), username=None):
    """A staff login in charge of `node` (as `role`), holding the given 'app.codename' permissions."""
    role = role or make_role(node.scheme, key=f"staff_{node.level.key}", levels=(node.level.key,))
    n = next(_n)
    person = services.person_create(name=f"测试{n}", phone=f"1380000{n:04d}")
    user = services.staff_user_create(username=username or f"staff{n}", password="Grid-demo-2026!", person=person)
    services.assignment_create(person=person, node=node, role=role)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return user


def totp_device(user):
    """A confirmed TOTP device for `user`, as if they had set up their authenticator app."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def totp_code(device, *, step_offset: int = 0) -> str:
    """The code the user's authenticator app shows now (what a phone computes from the shared key). A code is
    taken once: when this step's code was already used (a second login within 30 s), the next step's, which
    the one-step tolerance accepts."""
    from django_otp.oath import TOTP

    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if not step_offset and device.last_t is not None and device.last_t >= totp.t():
        step_offset = 1
    totp.time = totp.time + step_offset * device.step
    return f"{totp.token():0{device.digits}d}"


def login_with_two_factors(client, user, password: str, *, next_url: str = ""):
    """Log in through the pages as a person would: the password, then the code of their app (set up for them
    here when they have none). Returns the last response of the second step."""
    from django.urls import reverse

    from gridgov.accounts.security import two_factor_device

    device = two_factor_device(user) or totp_device(user)
    url = reverse("login") + (f"?next={next_url}" if next_url else "")
    client.post(url, {"username": user.get_username(), "password": password})
    return client.post(reverse("login-verify"), {"code": totp_code(device)}, follow=True)


def api_client_for(user):
    """A DRF test client authenticated as `user` (the API's own checks still apply)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
