"""Test settings: fast hashing, tasks run immediately, no network."""

import os
import tempfile
from pathlib import Path

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

# Files with personal data written by tests go to a throwaway directory, not var/private.
PRIVATE_FILES_DIR = Path(tempfile.gettempdir()) / f"gridgov-test-private-{os.getpid()}"
