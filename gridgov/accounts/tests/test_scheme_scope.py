"""A deployment sees only itself: district-wide means for the login's own scheme; every scheme only for the
platform role (granted by the security administrator, audited)."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from gridgov.accounts import services
from gridgov.accounts.models import AdminRole
from gridgov.accounts.selectors import user_is_district_wide, user_is_platform_wide, user_scope_paths
from gridgov.accounts.tests.factories import make_role, make_staff
from gridgov.core.models import AuditEntry
from gridgov.people.exports import EXPORT_KINDS, export_queryset
from gridgov.people.tests.factories import make_household
from gridgov.privacy.models import AccessLog
from gridgov.territory.tests.factories import make_scheme, make_tree

READ = ["people.view_resident", "people.view_household", "territory.view_node"]
PURPOSE = "入户走访核实"


def perms(*names):
    return [Permission.objects.get(content_type__app_label=n.split(".")[0], codename=n.split(".")[1]) for n in names]


def district_operator(scheme, username, *, extra=()):
    user = services.staff_user_create(username=username, password="Grid-demo-2026!", sees_everything=True,
                                      scheme=scheme)
    user.user_permissions.add(*perms(*READ, "people.reveal_personal_data", *extra))
    return user


@pytest.fixture
def two_deployments(db):
    pinggu, luohu = make_scheme("pinggu"), make_scheme("luohu")
    p_tree, l_tree = make_tree(pinggu), make_tree(luohu, origin=(114.1, 22.5))
    _, (p_head,) = make_household(pinggu, p_tree["g1"], head_name="平谷居民")
    _, (l_head,) = make_household(luohu, l_tree["g1"], head_name="罗湖居民")
    return {"P": pinggu, "L": luohu, "p_tree": p_tree, "l_tree": l_tree, "p_head": p_head, "l_head": l_head}


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_pinggu_operator_revealing_a_luohu_resident_is_a_404(two_deployments):
    # given the Pinggu district operator, who may reveal personal data
    d = two_deployments
    operator = district_operator(d["P"], "pinggu_admin")
    client = api(operator)
    # when they reveal a Luohu resident, by the API and by the page
    res = client.post(f"/api/people/residents/{d['l_head'].pk}/reveal/",
                      {"fields": ["id_number"], "purpose": PURPOSE}, format="json")
    page = Client()
    page.force_login(operator)
    page_res = page.post(f"/people/reveal/resident/{d['l_head'].pk}/", {"purpose": PURPOSE, "fields": "id_number"})
    # then both are a 404 and nothing was revealed or logged as revealed
    assert res.status_code == 404
    assert page_res.status_code == 404
    assert not AccessLog.objects.filter(record_id=d["l_head"].pk, kind="REVEAL").exists()
    # while their own district's resident is theirs to reveal
    own = client.post(f"/api/people/residents/{d['p_head'].pk}/reveal/", {"fields": ["id_number"],
                                                                            "purpose": PURPOSE}, format="json")
    assert own.status_code == 200


def test_district_wide_is_for_the_own_scheme_only(two_deployments):
    # given
    d = two_deployments
    operator = district_operator(d["P"], "pg_op")
    # then the one rule says so, and the scope is the Pinggu tree
    assert user_is_district_wide(operator, d["P"]) and not user_is_district_wide(operator, d["L"])
    assert user_scope_paths(operator) == [d["p_tree"]["district"].path]
    # a district-wide login without a scheme is refused by the service
    with pytest.raises(ValidationError) as exc:
        services.staff_user_create(username="nowhere", password="Grid-demo-2026!", sees_everything=True)
    assert "scheme" in exc.value.message_dict


def test_across_schemes_only_for_the_platform_role_granted_by_the_security_administrator(two_deployments):
    # given a security administrator and an operator of Pinggu
    d = two_deployments
    security = services.staff_user_create(username="sec", password="Grid-demo-2026!")
    security.admin_role = AdminRole.SECURITY
    security.save()
    operator = district_operator(d["P"], "pg_op2")
    # when the operator tries to make themselves platform-wide, they are refused on the field
    with pytest.raises(ValidationError):
        services.user_grants_update(user=operator, actor=operator, platform_wide=True)
    # when the security administrator grants it
    changes = services.user_grants_update(user=operator, actor=security, platform_wide=True)
    operator.refresh_from_db()
    # then the operator sees Luohu too, and the grant is in the audit log with old and new values
    assert changes == {"platform_wide": [False, True]}
    assert user_is_platform_wide(operator) and user_scope_paths(operator) is None
    entry = AuditEntry.objects.get(action="accounts.user_grants_change", target_id=str(operator.pk))
    assert entry.actor == security and entry.changes == {"platform_wide": [False, True]}
    assert api(operator).get(f"/api/people/residents/{d['l_head'].pk}/").status_code == 200


NODES = ["district", "street", "community", "g1", "g2"]
_n = itertools.count(1)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(kind=st.sampled_from(["district_wide", "assigned", "assigned_wide"]), node=st.sampled_from(NODES),
       reveals=st.booleans(), reveal_perm=st.booleans())
def test_no_random_user_of_one_scheme_sees_a_record_of_another(two_deployments, kind, node, reveals, reveal_perm):
    # given a random login of Pinggu: district-wide, or assigned somewhere (perhaps also district-wide but
    # with no scheme of its own, so derived from the assignment), with or without the right to reveal
    d = two_deployments
    extra = ["people.reveal_personal_data"] if reveal_perm else []
    if kind == "district_wide":
        user = district_operator(d["P"], f"dw{next(_n)}", extra=extra)
    else:
        role = make_role(d["P"], key=f"r_{node}_{reveals}", levels=(d["p_tree"][node].level.key,))
        if reveals and not role.reveals_personal_data:
            role.reveals_personal_data = True
            role.save()
        user = make_staff(d["p_tree"][node], role=role, perms=[*READ, *extra])
        if kind == "assigned_wide":
            type(user).objects.filter(pk=user.pk).update(sees_everything=True)
            user.refresh_from_db()
    luohu = d["l_head"]
    client = api(user)
    page = Client()
    page.force_login(user)
    # then Luohu's resident is nowhere: list, detail, reveal, page, export, territory API
    listed = client.get("/api/people/residents/", {"page_size": 500}).json()["results"]
    assert luohu.pk not in {r["id"] for r in listed}
    assert client.get(f"/api/people/residents/{luohu.pk}/").status_code == 404
    assert client.post(f"/api/people/residents/{luohu.pk}/reveal/", {"purpose": PURPOSE},
                       format="json").status_code == 404
    assert page.get(f"/people/residents/{luohu.pk}/").status_code == 404
    assert not export_queryset(EXPORT_KINDS["residents"], scheme=d["L"], filters={}, user=user).exists()
    assert client.get(f"/api/territory/nodes/{d['l_tree']['g1'].pk}/").status_code == 404
    assert not AccessLog.objects.filter(record_id=luohu.pk, kind="REVEAL").exists()
