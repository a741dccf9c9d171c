"""三员分立: the system, security and audit administrators, one role per account, each limited to its own
work in every registered admin; every change of powers audited with old and new values; logins are
deactivated, never deleted."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from gridgov.accounts import services
from gridgov.accounts.models import AdminRole
from gridgov.accounts.tests.factories import make_role
from gridgov.core.checks import administrators
from gridgov.core.models import AuditEntry
from gridgov.people.models import RecordHistory

pytestmark = pytest.mark.django_db

# the specification, restated here rather than imported: what gives power, and what is the audit record
GRANTS = {"auth.group", "accounts.user", "cases.actiongrant", "integrations.apiclient", "authtoken.tokenproxy",
          "knox.authtoken", "otp_totp.totpdevice", "otp_static.staticdevice"}
AUDIT = {"core.auditentry", "privacy.accesslog"}
# pages shared with configuration, where the security administrator handles the revealing grants only
REVEAL_GRANTS = {"accounts.assignment", "accounts.role", "accounts.person"}
REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label_lower)
_n = itertools.count(1)


def login(role: str = "", *, all_perms: bool = True):
    """A staff login holding every permission there is, with the given administrator role: what the role
    forbids, no permission can give back."""
    user = get_user_model().objects.create_user(username=f"{role.lower() or 'plain'}{next(_n)}",
                                                password="Grid-demo-2026!", is_staff=True, admin_role=role)
    if all_perms:
        user.user_permissions.set(Permission.objects.all())
    return get_user_model().objects.get(pk=user.pk)


def answers(model_admin, user) -> dict[str, bool]:
    request = RequestFactory().get("/admin/")
    request.user = user
    return {"view": model_admin.has_view_permission(request), "add": model_admin.has_add_permission(request),
            "change": model_admin.has_change_permission(request),
            "delete": model_admin.has_delete_permission(request),
            "module": model_admin.has_module_permission(request)}


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label_lower)
def test_every_admin_obeys_the_three_roles(model):
    # given the model's admin, and one login of each role plus a plain one, all with every permission
    model_admin = admin.site._registry[model]
    key = model._meta.label_lower
    plain = answers(model_admin, login())
    system, security, audit = (answers(model_admin, login(r)) for r in ("SYSTEM", "SECURITY", "AUDIT"))
    nothing = dict.fromkeys(["view", "add", "change", "delete"], False)
    without_module = lambda a: {k: v for k, v in a.items() if k != "module"}  # noqa: E731
    # then the audit administrator only reads the audit records
    if key in AUDIT:
        assert audit["view"] and not (audit["add"] or audit["change"] or audit["delete"])
    else:
        assert without_module(audit) == nothing
    # the security administrator only grants
    if key in GRANTS:
        assert security["view"]
    elif key in REVEAL_GRANTS:
        assert security["view"] and not security["delete"]
    else:
        assert without_module(security) == nothing
    # the system administrator neither grants nor reads the audit log, and configures as a plain login does
    if key in GRANTS or key in AUDIT:
        assert without_module(system) == nothing
    else:
        assert system == plain
    # the security audit log proper is read by nobody but the audit administrator
    if key == "core.auditentry":
        assert without_module(plain) == nothing


def test_admin_index_sections_follow_the_role():
    # given
    auditor, security = login("AUDIT"), login("SECURITY")
    # then
    assert auditor.has_module_perms("core") and not auditor.has_module_perms("territory")
    assert security.has_module_perms("auth") and not security.has_module_perms("catalogue")


def test_one_account_holds_one_administrator_role_in_the_database():
    # given
    user = login("SYSTEM")
    # when / then: there is one column, and it accepts one known role only
    for value in ("SYS+AUDIT", "ROOT"):
        with pytest.raises(IntegrityError), transaction.atomic():
            get_user_model().objects.filter(pk=user.pk).update(admin_role=value)


def test_only_the_security_administrator_grants_and_never_to_themselves():
    # given
    system, security, other = login("SYSTEM", all_perms=False), login("SECURITY", all_perms=False), login(all_perms=False)
    # when the system administrator grants, they are refused on the field
    with pytest.raises(ValidationError) as exc:
        services.user_grants_update(user=other, actor=system, admin_role=AdminRole.AUDIT)
    assert "admin_role" in exc.value.message_dict
    # a security administrator never changes their own powers, nor makes superusers
    with pytest.raises(ValidationError):
        services.user_grants_update(user=security, actor=security, admin_role=AdminRole.SYSTEM)
    with pytest.raises(ValidationError) as exc:
        services.user_grants_update(user=other, actor=security, is_superuser=True)
    assert "is_superuser" in exc.value.message_dict
    # when the security administrator makes someone the audit administrator and gives them a group
    group = Group.objects.create(name="readers")
    changes = services.user_grants_update(user=other, actor=security, admin_role=AdminRole.AUDIT, groups=[group],
                                          address="10.1.2.3")
    # then it is done and audited with old and new values
    assert changes == {"admin_role": ["", "AUDIT"], "groups": [[], ["readers"]]}
    entry = AuditEntry.objects.get(action="accounts.user_grants_change", target_id=str(other.pk))
    assert entry.actor == security and entry.changes == changes and entry.address == "10.1.2.3"
    assert AuditEntry.objects.filter(actor=system).count() == 0


def form_data(form) -> dict:
    """What a browser would post back for an unchanged admin form."""
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(value, dt.datetime):
            local = timezone.localtime(value)
            data[f"{name}_0"], data[f"{name}_1"] = local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v.pk if hasattr(v, "pk") else v) for v in value]
        elif value is not None:
            data[name] = value
    return data


def test_superuser_and_district_wide_set_in_the_admin_leave_an_audit_row(scheme):
    # given the installation superuser on a login's admin page
    root = get_user_model().objects.create_superuser("root", "root@example.org", "Grid-demo-2026!")
    target = login(all_perms=False)
    client = Client()
    client.force_login(root)
    url = reverse("admin:accounts_user_change", args=[target.pk])
    data = form_data(client.get(url).context["adminform"].form)
    # when they tick superuser and district-wide (for a scheme)
    data.update({"is_superuser": "on", "sees_everything": "on", "scheme": str(scheme.pk)})
    res = client.post(url, data)
    # then it is saved and audited with old and new values
    assert res.status_code == 302, res.context["adminform"].form.errors if res.context else res
    entry = AuditEntry.objects.get(action="accounts.user_grants_change", target_id=str(target.pk))
    assert entry.actor == root
    assert entry.changes["is_superuser"] == [False, True] and entry.changes["sees_everything"] == [False, True]
    assert entry.changes["scheme_id"] == [None, scheme.pk]


def test_a_district_wide_tick_without_a_scheme_is_refused_on_the_form(scheme):
    # given
    security = login("SECURITY", all_perms=False)
    target = login(all_perms=False)
    client = Client()
    client.force_login(security)
    url = reverse("admin:accounts_user_change", args=[target.pk])
    data = form_data(client.get(url).context["adminform"].form)
    # when
    data["sees_everything"] = "on"
    res = client.post(url, data)
    # then the form names the field and nothing changed
    assert res.status_code == 200 and res.context["adminform"].form.errors
    target.refresh_from_db()
    assert not target.sees_everything


def test_the_system_administrator_cannot_open_grants_or_the_audit_log_and_the_auditor_exports_it():
    # given
    system, security, auditor = login("SYSTEM"), login("SECURITY"), login("AUDIT")
    write = services.person_create(name="审计对象", actor=system)
    clients = {}
    for name, user in (("system", system), ("security", security), ("auditor", auditor)):
        clients[name] = Client()
        clients[name].force_login(user)
    log, export = reverse("admin:core_auditentry_changelist"), reverse("admin:core_auditentry_export")
    # then
    assert clients["system"].get(reverse("admin:accounts_user_changelist")).status_code == 403
    assert clients["system"].get(log).status_code == 403
    assert clients["system"].get(export, {"fmt": "csv"}).status_code == 403
    assert clients["security"].get(reverse("admin:territory_node_changelist")).status_code == 403
    assert clients["security"].get(log).status_code == 403
    assert clients["auditor"].get(reverse("admin:accounts_user_changelist")).status_code == 403
    # the audit administrator searches and exports, and the export is itself audited
    found = clients["auditor"].get(log, {"q": "accounts.person_create"})
    assert found.status_code == 200 and write.pk in {int(e.target_id) for e in found.context["cl"].result_list}
    res = clients["auditor"].get(export, {"fmt": "csv", "action": "accounts.person_create"})
    body = b"".join(res.streaming_content).decode("utf-8-sig")
    assert res.status_code == 200 and "accounts.person_create" in body and str(write.pk) in body
    assert AuditEntry.objects.filter(action="audit.export", actor=auditor).exists()
    xlsx = clients["auditor"].get(export, {"fmt": "xlsx"})
    assert xlsx.status_code == 200 and b"".join(xlsx.streaming_content)[:2] == b"PK"
    assert clients["auditor"].get(export, {"fmt": "pdf"}).status_code == 400


def test_revealing_roles_are_assigned_by_the_security_administrator_only(scheme, tree):
    # given a role whose holders may reveal personal data, and a plain one
    revealing = make_role(scheme, key="revealer", levels=("grid",))
    revealing.reveals_personal_data = True
    revealing.save()
    plain_role = make_role(scheme, key="plain", levels=("grid",))
    person = services.person_create(name="王五")
    system, security = login("SYSTEM", all_perms=False), login("SECURITY", all_perms=False)
    # when / then: configuring who is in charge is the system administrator's; the revealing grant is not
    services.assignment_create(person=person, node=tree["g1"], role=plain_role, actor=system)
    with pytest.raises(ValidationError) as exc:
        services.assignment_create(person=person, node=tree["g1"], role=revealing, actor=system)
    assert "role" in exc.value.message_dict
    assert services.assignment_create(person=person, node=tree["g1"], role=revealing, actor=security).pk
    # and the security administrator does not configure who is in charge otherwise
    with pytest.raises(ValidationError) as exc:
        services.assignment_create(person=services.person_create(name="赵六"), node=tree["g2"], role=plain_role,
                                   actor=security)
    assert "role" in exc.value.message_dict


def test_logins_are_deactivated_never_deleted():
    # given a login that changed a record
    root = get_user_model().objects.create_superuser("root2", "r@example.org", "Grid-demo-2026!")
    user = login(all_perms=False)
    RecordHistory.objects.create(record_type="resident", record_id=1, version=1, action="CREATE",
                                 at=timezone.now(), actor=user)
    client = Client()
    client.force_login(root)
    # when the admin is asked to delete it, even by the superuser
    res = client.post(reverse("admin:accounts_user_delete", args=[user.pk]), {"post": "yes"})
    # then it is refused, the service refuses too, and the database would not let the history lose its actor
    assert res.status_code == 403
    with pytest.raises(ValidationError):
        services.user_delete(user=user, actor=root)
    with pytest.raises(ProtectedError), transaction.atomic():
        user.delete()
    assert RecordHistory.objects.get(record_id=1).actor == user
    # and deactivating is audited
    with pytest.raises(ValidationError):
        services.user_deactivate(user=user, actor=root, reason=" ")
    services.user_deactivate(user=user, actor=root, reason="left the office")
    user.refresh_from_db()
    assert not user.is_active
    entry = AuditEntry.objects.get(action="accounts.user_deactivate", target_id=str(user.pk))
    assert entry.changes == {"is_active": [True, False]} and entry.summary == "left the office"


def test_a_group_change_is_audited_with_old_and_new_permissions():
    # given a security administrator and a group
    security = login("SECURITY", all_perms=False)
    group = Group.objects.create(name="operators")
    client = Client()
    client.force_login(security)
    perm = Permission.objects.get(content_type__app_label="territory", codename="view_node")
    # when they add a permission to it in the admin
    res = client.post(reverse("admin:auth_group_change", args=[group.pk]), {"name": "operators",
                                                                            "permissions": [perm.pk]})
    # then
    assert res.status_code == 302
    entry = AuditEntry.objects.get(action="auth.group_change", target_id=str(group.pk))
    assert entry.changes == {"permissions": [[], ["territory.view_node"]]} and entry.actor == security


def test_a_superuser_next_to_the_three_administrators_is_warned_about():
    # given the three administrators
    for role in ("SYSTEM", "SECURITY", "AUDIT"):
        login(role, all_perms=False)
    assert "gridgov.W011" not in [w.id for w in administrators(None)]
    # when an installation superuser is still active
    get_user_model().objects.create_superuser("installer", "i@example.org", "Grid-demo-2026!")
    # then the system check says so
    assert "gridgov.W011" in [w.id for w in administrators(None)]


def test_an_action_grant_changed_in_the_admin_is_audited_with_old_and_new_values():
    # given the security administrator on a shipped action grant
    from gridgov.cases.models import ActionGrant

    security = login("SECURITY", all_perms=False)
    grant = ActionGrant.objects.filter(sees_reporter=False).order_by("pk").first()
    client = Client()
    client.force_login(security)
    url = reverse("admin:cases_actiongrant_change", args=[grant.pk])
    data = form_data(client.get(url).context["adminform"].form)
    # when they let its holders see who reported
    data["sees_reporter"] = "on"
    res = client.post(url, data)
    # then
    assert res.status_code == 302, res.context["adminform"].form.errors if res.context else res
    entry = AuditEntry.objects.get(action="cases.actiongrant_change", target_id=str(grant.pk))
    assert entry.actor == security and entry.changes == {"sees_reporter": [False, True]}
    # and a system administrator may not even open it
    system = Client()
    system.force_login(login("SYSTEM"))
    assert system.get(url).status_code == 403


def test_a_roles_revealing_flag_is_the_security_administrators_and_audited(scheme):
    # given a role that does not reveal, edited by the system administrator, then by the security administrator
    role = make_role(scheme, key="helper", levels=("grid",))
    url = reverse("admin:accounts_role_change", args=[role.pk])
    system, security = Client(), Client()
    system.force_login(login("SYSTEM"))
    security_user = login("SECURITY", all_perms=False)
    security.force_login(security_user)
    # when the system administrator posts the flag, it is not theirs to set (read-only there)
    data = form_data(system.get(url).context["adminform"].form)
    data["reveals_personal_data"] = "on"
    system.post(url, data)
    role.refresh_from_db()
    assert not role.reveals_personal_data
    # when the security administrator sets it, only it is editable, and it is audited
    form = security.get(url).context["adminform"].form
    assert list(form.fields) == ["reveals_personal_data"]
    res = security.post(url, {"reveals_personal_data": "on"})
    assert res.status_code == 302
    role.refresh_from_db()
    assert role.reveals_personal_data
    entry = AuditEntry.objects.get(action="accounts.role_grants_change", target_id=str(role.pk))
    assert entry.actor == security_user and entry.changes == {"reveals_personal_data": [False, True]}
