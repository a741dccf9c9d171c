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
