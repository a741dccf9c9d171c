"""Item 15 (production settings): HTTPS-only headers and cookies, and `check --deploy` clean at WARNING."""

from __future__ import annotations

import json
import subprocess
import sys

from config.env import BASE_DIR
from config.keys import new_data_key, new_secret_key
from tests.config.test_keys import _clean_env

PRINT = ("import django, json; from django.conf import settings; django.setup(); print(json.dumps({n: "
         "getattr(settings, n, None) for n in ['SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
         "'SECURE_HSTS_PRELOAD', 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
         "'SESSION_COOKIE_SAMESITE', 'CSRF_COOKIE_SECURE', 'CSRF_COOKIE_HTTPONLY', 'CSRF_COOKIE_SAMESITE', "
         "'SECURE_CONTENT_TYPE_NOSNIFF', 'SECURE_REFERRER_POLICY', 'X_FRAME_OPTIONS', 'DEBUG', "
         "'API_DOCS_STAFF_ONLY', 'SILENCED_SYSTEM_CHECKS']}))")


def _production_env(tmp_path, **extra: str) -> dict[str, str]:
    """What a production run has: its own keys, its host names, its public address."""
    return _clean_env(DJANGO_SETTINGS_MODULE="config.settings.production", SECRET_KEY=new_secret_key(),
                      GRIDGOV_DATA_KEY=new_data_key(), ALLOWED_HOSTS="grid.example.gov.cn",
                      SITE_URL="https://grid.example.gov.cn", GRIDGOV_VAR_DIR=str(tmp_path), **extra)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=env,  # noqa: S603 (our own interpreter)
                          capture_output=True, text=True, timeout=180, check=False)


def test_production_settings_pass_check_deploy_at_warning_level(tmp_path):
    # given the production settings with what a production run would have
    # when
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path))
    # then no warning at all (before: HSTS, SSL redirect, and more)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_sets_hsts_https_cookies_and_headers(tmp_path):
    # when
    result = _run(["-c", PRINT], _production_env(tmp_path))
    # then
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is False and values["SILENCED_SYSTEM_CHECKS"] == ["security.W021"]
    assert values["SECURE_SSL_REDIRECT"] is True and values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["CSRF_COOKIE_SECURE"] and values["CSRF_COOKIE_HTTPONLY"]
    assert values["SESSION_COOKIE_SAMESITE"] == values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["API_DOCS_STAFF_ONLY"] is True


def test_hsts_max_age_and_preload_are_configurable(tmp_path):
    # when the operator sets a short max-age while trying HTTPS out, then opts into preloading
    short = json.loads(_run(["-c", PRINT], _production_env(tmp_path, SECURE_HSTS_SECONDS="3600")).stdout)
    preload = json.loads(_run(["-c", PRINT], _production_env(tmp_path, SECURE_HSTS_PRELOAD="1")).stdout)
    # then
    assert short["SECURE_HSTS_SECONDS"] == 3600
    assert preload["SECURE_HSTS_PRELOAD"] is True and not preload["SILENCED_SYSTEM_CHECKS"]
