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
