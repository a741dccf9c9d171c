"""Suite-wide fixtures. App fixtures live in gridgov/<app>/tests/conftest.py."""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM) or shutil.which("chromium"):
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI requires Debian chromium at {CHROMIUM} for the browser tests")
    skip = pytest.mark.skip(reason="Debian chromium not installed (apt-get install chromium); CI runs these")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


def _transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool({"live_server", "transactional_db"} & set(request.fixturenames)) or bool(
        marker and marker.kwargs.get("transaction"))


@pytest.fixture(autouse=True)
def _append_only_tables_flushable(request):
    """Tests on a real (non-rolled-back) database end with a flush, which SQLite runs as DELETE: lift the
    append-only triggers just before it (PostgreSQL truncates, which row triggers do not see)."""
    if not _transactional(request):
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    from django.db import connection

    from gridgov.core.db import append_only_remove

    if connection.vendor == "sqlite":
        append_only_remove(connection)


@pytest.fixture(autouse=True)
def _migration_seeded_rows(request):
    """Rows the migrations seed (default action grants, special groups) are emptied by the flush that ends a
    transactional test, for every later test on the same worker: put them back before a database test."""
    if not ({"db", "transactional_db"} & set(request.fixturenames) or request.node.get_closest_marker("django_db")):
        yield
        return
    request.getfixturevalue("transactional_db" if _transactional(request) else "db")
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    from gridgov.cases.models import ActionGrant
    from gridgov.people.models import SpecialGroup

    if not ActionGrant.objects.filter(scheme__isnull=True).exists():
        importlib.import_module("gridgov.cases.migrations.0002_guards_and_grants").grants(apps, None, holders={})
        importlib.import_module("gridgov.cases.migrations.0004_public_rating_grant").grant(apps, None)
    if not SpecialGroup.objects.exists():
        importlib.import_module("gridgov.people.migrations.0002_guards_and_groups").install(
            apps, SimpleNamespace(connection=connection))
    yield


@pytest.fixture(autouse=True)
def _fresh_config_caches():
    """Each test starts with empty per-process caches of settings (`core.versioned`), so what a test reads and
    how many statements it takes never depend on the tests that ran before it on the same worker."""
    from gridgov.core.versioned import versioned_clear

    versioned_clear()
    yield


@pytest.fixture(autouse=True)
def _language_of_the_settings():
    """Each test starts in the settings' language: a request answered in another one (the locale middleware
    activates the request's language for the thread and leaves it so) would otherwise set the language of
    the next test on the same worker."""
    from django.utils import translation

    translation.deactivate()
    yield


@pytest.fixture(autouse=True)
def _own_demo_logins_file(settings, tmp_path):
    """The demo logins' passwords live in a file, not in the database, so no rollback clears them: each test
    gets its own file, and a profile loaded by an earlier test on the same worker leaves nothing behind."""
    settings.DEMO_LOGINS_FILE = tmp_path / "demo-logins.json"
