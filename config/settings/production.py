"""Production settings: secrets from the environment only, HTTPS everywhere, nothing for debugging.

`manage.py check --deploy --fail-level WARNING` passes with these settings (run by `make test`).
"""

from config.env import env_bool, env_int
from config.keys import data_key_checked, required_secret

from .base import *  # noqa: F403

DEBUG = False
# Never created here and never defaulted: a missing key stops the start (ImproperlyConfigured).
SECRET_KEY = required_secret("SECRET_KEY", why="it signs sessions and tokens")
PERSONAL_DATA_KEY = data_key_checked(
    required_secret("GRIDGOV_DATA_KEY", why="it seals ID numbers and phones (32 random bytes, base64)"))

# HTTPS only. The TLS-terminating proxy sets X-Forwarded-Proto (docs/operations.md).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading commits the whole domain to HTTPS in browsers for months and is hard to undo: a decision for the
# domain's owner, off by default; Django's reminder (security.W021) is then silenced on purpose.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Cookies: only over HTTPS, out of reach of scripts, not sent on cross-site subrequests.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True  # the pages send the token from the form field, never from the cookie
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# The API's schema and interactive documentation: staff only (they map every endpoint for an attacker).
API_DOCS_STAFF_ONLY = True

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
