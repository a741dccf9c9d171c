"""Settings with history: the case policy, routing rules and action grants change only through services,
each change an audit entry with the old and new values — from the admin (add, change, list edit, delete)
and from the API alike."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from gridgov.accounts.tests.factories import api_client_for
from gridgov.cases.models import ActionGrant, Case, CasePolicy, Channel, RoutingRule
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.core.models import AuditEntry


@pytest.fixture
def loop(scheme, tree):
    return make_loop(scheme, tree)


@pytest.fixture
def admin_client():
    user = get_user_model().objects.create_superuser(username="root", password="Grid-demo-2026!")
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def _entry(action: str, obj) -> AuditEntry:
    return AuditEntry.objects.get(action=action, target_id=str(obj.pk))


def test_a_routing_rule_added_changed_list_edited_and_deleted_in_the_admin_is_audited(loop, admin_client):
    # when a rule is added in the admin
    response = admin_client.post(reverse("admin:cases_routingrule_add"), {
        "scheme": loop.scheme.pk, "order": 50, "name": "夜间到网格员", "target": "GRID_WORKER", "active": "on",
        "matter": "", "node": "", "channel": ""}, follow=False)
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = RoutingRule.objects.get(order=50)
    # then an entry holds its new values
    added = _entry("cases.routingrule_add", rule)
    assert added.actor == admin_client.user and added.changes["name"] == [None, "夜间到网格员"]
    # when it is deactivated in the list view
    changelist = reverse("admin:cases_routingrule_changelist")
    page = admin_client.get(changelist)
    formset = page.context["cl"].formset
    data = {"form-TOTAL_FORMS": formset.total_form_count(), "form-INITIAL_FORMS": formset.initial_form_count(),
            "form-MIN_NUM_FORMS": 0, "form-MAX_NUM_FORMS": 1000, "_save": "Save"}
    for i, form in enumerate(formset.forms):
        data[f"form-{i}-id"] = form.instance.pk
        if form.instance.pk != rule.pk and form.instance.active:
            data[f"form-{i}-active"] = "on"
    assert admin_client.post(changelist, data).status_code == 302
    # then the change is audited with its old and new value, and only that rule changed
    assert _entry("cases.routingrule_change", rule).changes == {"active": [True, False]}
    assert AuditEntry.objects.filter(action="cases.routingrule_change").count() == 1
    # when it is renamed on its page
    url = reverse("admin:cases_routingrule_change", args=[rule.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, dict | list)}
    data.update({"name": "夜间", "scheme": loop.scheme.pk})
    data.pop("active", None)
    assert admin_client.post(url, data).status_code == 302
    assert AuditEntry.objects.filter(action="cases.routingrule_change", target_id=str(rule.pk)).latest("seq") \
        .changes == {"name": ["夜间到网格员", "夜间"]}
    # when it is deleted, then an entry keeps what it was
    assert admin_client.post(reverse("admin:cases_routingrule_delete", args=[rule.pk]), {"post": "yes"}) \
        .status_code == 302
    assert not RoutingRule.objects.filter(pk=rule.pk).exists()
    assert _entry("cases.routingrule_delete", rule).changes["name"] == ["夜间", None]


def test_a_routing_rule_that_routed_a_case_cannot_be_deleted_in_the_admin_nor_the_api(loop, admin_client):
    # given a case routed by the catch-all rule
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, matter="02001", lon=lon, lat=lat,
                       description="占道").case
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch")
    rule = Case.objects.get(pk=case.pk).routing_rule
    assert rule is not None
    # when the admin and the API try to delete it, then both refuse, and nothing is audited
    assert admin_client.post(reverse("admin:cases_routingrule_delete", args=[rule.pk]), {"post": "yes"}) \
        .status_code == 403
    response = api_client_for(loop.centre).delete(f"/api/cases/routing-rules/{rule.pk}/")
    assert response.status_code == 400 and "active" in response.json()
    assert RoutingRule.objects.filter(pk=rule.pk).exists()
    assert not AuditEntry.objects.filter(action="cases.routingrule_delete").exists()


def test_routing_rules_written_through_the_api_are_audited_with_old_and_new_values(loop):
    # given the centre on the API
    api = api_client_for(loop.centre)
    rules = "/api/cases/routing-rules/"
    # when it adds, changes and deletes a rule
    created = api.post(rules, {"scheme": loop.scheme.key, "order": 55, "name": "社区", "target": "COMMUNITY"},
                       format="json")
    assert created.status_code == 201, created.content
    rule = RoutingRule.objects.get(pk=created.json()["id"])
    assert api.patch(f"{rules}{rule.pk}/", {"name": "到社区"}, format="json").status_code == 200
    assert api.delete(f"{rules}{rule.pk}/").status_code == 204
    # then each is an entry by the centre with the old and new values
    assert _entry("cases.routingrule_add", rule).changes["order"] == [None, 55]
    change = _entry("cases.routingrule_change", rule)
    assert change.actor == loop.centre and change.changes == {"name": ["社区", "到社区"]}
    assert _entry("cases.routingrule_delete", rule).changes["name"] == ["到社区", None]


def test_the_case_policy_changed_in_the_admin_is_audited(loop, admin_client):
    # given the scheme's policy
    policy = CasePolicy.objects.get(scheme=loop.scheme)
    url = reverse("admin:cases_casepolicy_change", args=[policy.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, dict | list):
            import json

            data[name] = json.dumps(value)
        elif value is not None:
            data[name] = value
    # when the duplicate radius is widened
    data["duplicate_radius_m"] = policy.duplicate_radius_m + 50
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    # then one entry holds the old and the new radius
    assert _entry("cases.casepolicy_change", policy).changes == {
        "duplicate_radius_m": [policy.duplicate_radius_m, policy.duplicate_radius_m + 50]}


def test_an_action_grant_added_and_deleted_in_the_admin_is_audited(loop, admin_client):
    # when a grant is added, then deleted
    response = admin_client.post(reverse("admin:cases_actiongrant_add"), {
        "action": "comment", "holder": "REPORT_IN", "role": "", "role_category": "", "level": "", "scheme": ""})
    assert response.status_code == 302, response.context["adminform"].form.errors
    grant = ActionGrant.objects.get(action="comment", holder="REPORT_IN")
    assert admin_client.post(reverse("admin:cases_actiongrant_delete", args=[grant.pk]), {"post": "yes"}) \
        .status_code == 302
    # then both are entries, with the new and then the old values
    assert _entry("cases.actiongrant_add", grant).changes["holder"] == [None, "REPORT_IN"]
    assert _entry("cases.actiongrant_delete", grant).changes["holder"] == ["REPORT_IN", None]
