"""Item 2: a debug build or demo logins never face the network unless explicitly allowed (runserver, WSGI)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from config.env import BASE_DIR
from gridgov.core.serving import address_is_loopback, serve_problems
from tests.config.test_keys import _clean_env


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.8.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("0", False),  # noqa: S104 (addresses under test, nothing binds) ("::", False), ("192.168.1.20", False), ("grid.example.gov.cn", False),
    (None, False),
])
def test_which_addresses_are_loopback(address, loopback):
    assert address_is_loopback(address) is loopback


def test_runserver_on_the_network_with_debug_is_refused(db, settings):
    # given DEBUG on
    settings.DEBUG = True
    # when / then: refused before binding, naming the reason and the way out
    with pytest.raises(CommandError, match=r"refusing to serve on 0\.0\.0\.0: DEBUG is on.*GRIDGOV_ALLOW_PUBLIC_DEMO=1"):
        call_command("runserver", "0.0.0.0:8799", "--noreload", "--skip-checks")


def test_runserver_on_the_network_with_demo_logins_is_refused(db, settings):
    # given DEBUG off but an active demo login (what `make run` loads)
    settings.DEBUG = False
    get_user_model().objects.create_user("pinggu_admin", password="Whatever-it-is-42")
    # when / then
    with pytest.raises(CommandError, match="demo logins are active \\(pinggu_admin\\)"):
        call_command("runserver", "192.168.1.20:8799", "--noreload", "--skip-checks")


def test_loopback_or_explicit_permission_or_no_demo_serves(db, settings):
    # given DEBUG on and a demo login
    settings.DEBUG = True
    user = get_user_model().objects.create_user("pinggu_admin", password="Whatever-it-is-42")
    # then loopback is fine, and so is the network when explicitly allowed
    assert serve_problems("127.0.0.1") == []
    settings.ALLOW_PUBLIC_DEMO = True
    assert serve_problems("0.0.0.0") == []  # noqa: S104
    # and without DEBUG, once the demo login is deactivated, nothing is refused
    settings.ALLOW_PUBLIC_DEMO = False
    settings.DEBUG = False
    user.is_active = False
    user.save()
    assert serve_problems("0.0.0.0") == []  # noqa: S104


def test_a_wsgi_server_refuses_to_start_with_debug(tmp_path):
    # given a WSGI server (gunicorn) loading the application with DEBUG on: its address is not known here
    env = _clean_env(DJANGO_SETTINGS_MODULE="config.settings.local", GRIDGOV_VAR_DIR=str(tmp_path))

    def load(**extra):
        return subprocess.run([sys.executable, "-c", "import config.wsgi"], cwd=BASE_DIR, env={**env, **extra},
                              capture_output=True, text=True, timeout=120, check=False)

    # when / then: DEBUG refuses the start, unless allowed; without DEBUG (and no demo logins) it starts
    refused = load(DEBUG="1")
    assert refused.returncode != 0
    assert "refusing to serve through WSGI" in refused.stderr and "DEBUG is on" in refused.stderr
    assert load(DEBUG="1", GRIDGOV_ALLOW_PUBLIC_DEMO="1").returncode == 0
    started = load()
    assert started.returncode == 0, started.stderr


def test_runserver_on_loopback_serves_with_debug(tmp_path):
    # given `make run` on loopback with DEBUG asked for (runserver loads config.wsgi itself)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = _clean_env(DJANGO_SETTINGS_MODULE="config.settings.local", GRIDGOV_VAR_DIR=str(tmp_path), DEBUG="1")
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks",  # noqa: S603
                               f"127.0.0.1:{port}"], cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        # when a browser asks for a page's stylesheet
        status = None
        deadline = time.monotonic() + 90
        while status is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/gridgov/site.css", timeout=5) as res:
                    status = res.status
            except OSError:
                time.sleep(0.5)
        # then it is served: the start-up check of config.wsgi knows runserver checked its address
        assert status == 200, server.stderr.read() if server.poll() is not None else "no answer"
    finally:
        server.terminate()
        server.wait(timeout=30)
