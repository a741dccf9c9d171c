"""API clients: a key shown once and kept as a digest, a service login of its own, disabling, admin."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from gridgov.core.models import AuditEntry
from gridgov.integrations.models import ApiClient
from gridgov.integrations.services import api_client_authenticate, api_client_create

pytestmark = pytest.mark.django_db


def create(*args) -> tuple[ApiClient, str]:
    out = io.StringIO()
    call_command("api_client_create", *args, stdout=out)
    [key] = [line.split(": ", 1)[1] for line in out.getvalue().splitlines() if line.startswith("key: ")]
    return ApiClient.objects.get(name=args[0]), key


def test_create_prints_the_key_once_and_keeps_its_digest(scheme):
    # when a client is created without naming a login
    client, key = create("城市随手拍", "--scheme", scheme.key)
    # then only the key's digest and first characters are kept
    assert len(key) >= 40
    assert client.key_digest == hashlib.sha256(key.encode()).hexdigest() and client.key_prefix == key[:8]
    assert client.scheme == scheme and client.channel == "OPEN311" and client.active
    assert key not in str(list(ApiClient.objects.values())) and key not in str(list(AuditEntry.objects.values()))
    # and it acts as a new service login that can neither sign in nor use the admin
    assert client.user.username == "api-client"
    assert not client.user.has_usable_password() and not client.user.is_staff and not client.user.is_superuser
    # and its key opens it, recording the time of use
    assert api_client_authenticate(key=key) == client
    client.refresh_from_db()
    assert client.last_used_at is not None
    assert api_client_authenticate(key=key[:-1]) is None


def test_create_for_an_existing_login_and_the_refusals(scheme):
    login = get_user_model().objects.create_user("hotline-bridge")
    client, _key = create("12345 bridge", "--scheme", scheme.key, "--channel", "HOTLINE", "--user", "hotline-bridge")
    assert client.user == login and client.channel == "HOTLINE"
    with pytest.raises(CommandError, match="name: an API client named 12345 bridge exists already"):
        create("12345 bridge", "--scheme", scheme.key)
    with pytest.raises(CommandError, match="scheme: unknown level scheme nowhere"):
        create("other", "--scheme", "nowhere")
    with pytest.raises(CommandError, match="user: unknown login ghost"):
        create("other", "--scheme", scheme.key, "--user", "ghost")
    with pytest.raises(CommandError):
        create("other", "--scheme", scheme.key, "--channel", "PATROL")
    assert ApiClient.objects.count() == 1


def test_disable_command_refuses_the_key_from_then_on(scheme):
    # given a working client
    client, key = api_client_create(name="app", scheme=scheme)
    # when it is disabled
    out = io.StringIO()
    call_command("api_client_disable", "app", stdout=out)
    # then its key opens nothing
    client.refresh_from_db()
    assert not client.active and "disabled" in out.getvalue()
    assert api_client_authenticate(key=key) is None
    with pytest.raises(CommandError, match="name: unknown API client nope"):
        call_command("api_client_disable", "nope")


def test_admin_shows_prefix_and_digest_never_the_key_and_disables(scheme):
    # given a client and a superuser in the admin
    client, key = api_client_create(name="app", scheme=scheme)
    root = get_user_model().objects.create_superuser("root", "root@example.org", "Grid-demo-2026!")
    browser = Client()
    browser.force_login(root)
    # when the list and the client's page are opened
    listing = browser.get(reverse("admin:integrations_apiclient_changelist"))
    page = browser.get(reverse("admin:integrations_apiclient_change", args=[client.pk]))
    # then the prefix and digest show, the key nowhere, and no client is added in the admin
    assert listing.status_code == 200 and page.status_code == 200
    assert client.key_prefix in listing.content.decode() and client.key_digest in page.content.decode()
    assert key not in listing.content.decode() + page.content.decode()
    assert browser.get(reverse("admin:integrations_apiclient_add")).status_code == 403
    # and the disable action goes through the service
    browser.post(reverse("admin:integrations_apiclient_changelist"),
                 {"action": "disable", "_selected_action": [client.pk]})
    client.refresh_from_db()
    assert not client.active
    assert AuditEntry.objects.filter(action="integrations.api_client_disable", target_id=str(client.pk)).exists()
