"""Test settings: fast hashing, tasks run immediately, no network."""

import os
import tempfile
from pathlib import Path

from config.keys import new_data_key, new_secret_key, secret_from_environment

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HUEY = {**HUEY, "immediate": True}  # noqa: F405
CACHES = {**CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests assert on English messages; the tests of the Chinese default ask for zh-hans themselves.
LANGUAGE_CODE = "en"

# Throwaway keys per test process (never the checkout's var/keys), unless the environment gives them.
SECRET_KEY = secret_from_environment("SECRET_KEY") or new_secret_key()
PERSONAL_DATA_KEY = secret_from_environment("GRIDGOV_DATA_KEY") or new_data_key()

# Files with personal data written by tests go to a throwaway directory, not var/private.
PRIVATE_FILES_DIR = Path(tempfile.gettempdir()) / f"gridgov-test-private-{os.getpid()}"
DEMO_LOGINS_FILE = Path(tempfile.gettempdir()) / f"gridgov-test-demo-logins-{os.getpid()}.json"
BACKUP_DIR = Path(tempfile.gettempdir()) / f"gridgov-test-backups-{os.getpid()}"
# The API contract tests import config.wsgi while collecting, before any test database exists; the guard's
# own tests call it directly and load config.wsgi in a subprocess (gridgov/core/tests/test_serving.py).
SERVE_GUARD_AT_STARTUP = False
