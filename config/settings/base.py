"""Settings shared by every environment. Values come from config.env (environment variables)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config.env import BASE_DIR, database_config, env_bool, env_float, env_int, env_list, env_str, map_tiles
from config.keys import secret_from_environment

VAR_DIR = BASE_DIR / env_str("GRIDGOV_VAR_DIR", "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

# No secret has a default in the source (config/keys.py): the environment gives SECRET_KEY (or SECRET_KEY_FILE);
# otherwise the development settings read / create var/keys/secret-key and production refuses to start.
SECRET_KEY = secret_from_environment("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The public address printed in QR codes and sent in SMS links. Unset: a system check warns, and pages take
# the address from the request (its Host header, checked against ALLOWED_HOSTS).
SITE_URL = env_str("SITE_URL", "").rstrip("/")
# Serving on a non-loopback address with DEBUG on or with demo logins present is refused (runserver and the
# WSGI start-up) unless this is set: a deliberate demo on a network.
ALLOW_PUBLIC_DEMO = env_bool("GRIDGOV_ALLOW_PUBLIC_DEMO", False)
SERVE_GUARD_AT_STARTUP = True  # config/wsgi.py and asgi.py check the above when a server loads them
# The clear demo passwords, kept only to be printed by `make run` / `manage.py demo_logins` (mode 600).
DEMO_LOGINS_FILE = Path(env_str("GRIDGOV_DEMO_LOGINS_FILE", str(VAR_DIR / "demo-logins.json")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # before staticfiles: its `runserver` (refusing to serve a demo on the network) replaces staticfiles' one
    "gridgov.core",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "huey.contrib.djhuey",
    "csp",
    "gridgov.territory",
    "gridgov.accounts",
    "gridgov.privacy",
    "gridgov.people",
    "gridgov.workdays",
    "gridgov.catalogue",
    "gridgov.cases",
    "gridgov.integrations",
    "gridgov.dashboard",
    "gridgov.manage",
    "gridgov.seed",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # one read of the configuration versions per request (core.versioned)
    "gridgov.core.versioned.ConfigVersionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-csp's, with the policy's text built once per process (gridgov.core.csp)
    "gridgov.core.csp.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gridgov" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gridgov.accounts.workspaces.workspaces",
            ],
        },
    },
]

DATABASES = {"default": database_config(VAR_DIR / "gridgov.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Passwords: argon2 first (MLPS level 3); older hashes are upgraded on the next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# AUTH_PASSWORD_VALIDATORS: from the PASSWORD_POLICY preset (end of this file)
AUTHENTICATION_BACKENDS = ["gridgov.accounts.backends.LockoutModelBackend"]
# One name from one address is held back after this many failed logins (see LOGIN_BACKOFF_SECONDS below);
# an account lock lasts this many minutes.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 30)
# Keep the security audit log this many days (MLPS level 3: at least 180; less is refused).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 180)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "territory:home"  # the home page sends each user on to their workspace
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Response headers on every page (SecurityMiddleware, XFrameOptionsMiddleware); HTTPS-only ones in production.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "gridgov" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "gridgov" / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
# Files holding personal data (import uploads, rejected rows, exports): never served as static or media,
# only through views that check the owner; removed after PRIVATE_FILES_DAYS.
PRIVATE_FILES_DIR = Path(env_str("PRIVATE_FILES_DIR", str(VAR_DIR / "private")))
PRIVATE_FILES_DAYS = env_int("PRIVATE_FILES_DAYS", 7)
# `manage.py backup` writes its encrypted archives here unless given a path (docs/operations.md).
BACKUP_DIR = Path(env_str("BACKUP_DIR", str(VAR_DIR / "backups")))

# Personal data at rest: ID numbers and phones are sealed with this key (base64 of 32 random bytes), a key of its
# own, never derived from SECRET_KEY: GRIDGOV_DATA_KEY (or GRIDGOV_DATA_KEY_FILE); otherwise the development
# settings read / create var/keys/data-key and production refuses to start. Older keys, comma-separated,
# still open values sealed before a rotation. Cipher: AES-GCM, or SM4-GCM (商用密码; digests then use SM3).
PERSONAL_DATA_KEY = secret_from_environment("GRIDGOV_DATA_KEY")
PERSONAL_DATA_OLD_KEYS = env_list("GRIDGOV_DATA_OLD_KEYS", [])
PERSONAL_DATA_CIPHER = env_str("GRIDGOV_DATA_CIPHER", "AES-GCM")
# A stated purpose for revealing personal data must be at least this long.
REVEAL_PURPOSE_MIN_LENGTH = env_int("REVEAL_PURPOSE_MIN_LENGTH", 4)
# Base-data exports up to this many rows are produced during the request; larger ones by a task.
PEOPLE_EXPORT_INLINE_ROWS = env_int("PEOPLE_EXPORT_INLINE_ROWS", 5000)
# largest photo accepted on a case (bytes); uploads are checked to be real JPEG / PNG / WebP images
CASE_PHOTO_MAX_BYTES = env_int("CASE_PHOTO_MAX_BYTES", 10 * 1024 * 1024)
# public tracking page: lookups per minute from one address (guessing codes by trying is cut off)
CASE_TRACK_LOOKUPS_PER_MINUTE = env_int("CASE_TRACK_LOOKUPS_PER_MINUTE", 20)
# public report form (QR page): reports per hour from one address
CASE_PUBLIC_REPORTS_PER_HOUR = env_int("CASE_PUBLIC_REPORTS_PER_HOUR", 10)
# command centre map: worker positions older than this (minutes) are not shown
CENTRE_POSITION_MAX_AGE_MINUTES = env_int("CENTRE_POSITION_MAX_AGE_MINUTES", 120)
# SMS to reporters who gave a phone (registered / dispatched / handled / closed). The default backend only
# logs (masked); gridgov.privacy.sms.HttpGatewayBackend posts to your operator's gateway.
SMS_BACKEND = env_str("SMS_BACKEND", "gridgov.privacy.sms.LogBackend")
SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL", "")
SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN", "")
SMS_SIGN = env_str("SMS_SIGN", "")
SMS_GATEWAY_TIMEOUT = env_float("SMS_GATEWAY_TIMEOUT", 10.0)
# public tracking page: satisfaction ratings per hour from one address
CASE_PUBLIC_RATINGS_PER_HOUR = env_int("CASE_PUBLIC_RATINGS_PER_HOUR", 10)
WHITENOISE_USE_FINDERS = True

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "gridgov.core.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# One task queue: SQLite by default, Redis when REDIS_URL is set.
HUEY = {
    "name": "gridgov",
    "immediate": env_bool("HUEY_IMMEDIATE", False),
    "utc": True,
}
if REDIS_URL:
    HUEY.update({"huey_class": "huey.RedisHuey", "url": REDIS_URL})
else:
    HUEY.update({"huey_class": "huey.SqliteHuey", "filename": str(VAR_DIR / "tasks.sqlite3")})

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "gridgov.accounts.authentication.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "gridgov.core.pagination.Pagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "gridgov.core.api.exception_handler",
}
# /api/schema/ and /api/docs/ for staff only (the production settings set it)
API_DOCS_STAFF_ONLY = env_bool("API_DOCS_STAFF_ONLY", False)
# Rows in one API page at most, whatever `limit` asks for (offsets are capped too: gridgov/core/pagination.py).
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 1000)
SPECTACULAR_SETTINGS = {
    "TITLE": "gridgov API",
    "DESCRIPTION": "Grid-based community governance: territory, people in charge, cases.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from the installed package, never from a CDN (air-gapped networks)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "HouseholdKindEnum": "gridgov.people.models.Household.Kind",
        "AccessKindEnum": "gridgov.privacy.models.AccessKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gridgov.core.openapi.add_error_responses",
    ],
}

# Territory: how often (seconds) a process re-reads the territory version before using its cached
# spatial index. 0 = on every locate() call, so another process's edit is seen at once.
TERRITORY_INDEX_RECHECK_SECONDS = env_float("TERRITORY_INDEX_RECHECK_SECONDS", 0.0)
# Geometry checks: areas below this (m²) are treated as slivers from floating point, not overlaps/gaps.
TERRITORY_AREA_TOLERANCE_M2 = env_float("TERRITORY_AREA_TOLERANCE_M2", 1.0)

# Map base layers (Leaflet): MAP_TILES names a preset (tianditu, amap; its key in MAP_TILE_KEY), or
# MAP_TILE_URL / MAP_TILE_ATTRIBUTION a tile server. Neither = the cells on a plain background (offline).
MAP_TILES = map_tiles()

# Error reports never carry form values or local variables (they may hold personal data).
DEFAULT_EXCEPTION_REPORTER_FILTER = "gridgov.core.reporting.PersonalDataReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- content security policy (issue 11)
# Every page is served with a Content-Security-Policy (django-csp): scripts and styles only from our own
# static files or an element carrying the request's nonce ({{ request.csp_nonce }}), never inline handlers,
# javascript: URLs or eval; no plug-ins, no <base>, no framing, forms post only here. Map tiles are images
# from the hosts of MAP_TILES' layers. User text is put into the page as text (gridgov/static/gridgov/dom.js), and the
# policy is the second wall should a place be missed.
from csp.constants import NONCE, NONE, SELF  # noqa: E402


def _tile_source(url: str) -> list[str]:
    """The CSP source of a tile layer's URL: its scheme and host, with a Leaflet placeholder
    for the subdomain ({s}.tile.example.org) widened to a wildcard (*.tile.example.org)."""
    import re
    from urllib.parse import urlsplit

    if not url:
        return []
    parts = urlsplit(re.sub(r"\{[^}]*\}", "placeholder", url.split("/{z}")[0]))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return []
    labels = parts.netloc.split(".")
    if "placeholder" in labels[0]:
        labels[0] = "*"
    return [f"{parts.scheme}://{'.'.join(labels)}"]


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", "blob:", *dict.fromkeys(s for layer in MAP_TILES["layers"] for s in _tile_source(layer["url"]))],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
# Where browsers send reports of what the policy refused (an intrusion attempt or a page we broke), e.g. a
# collector at the reverse proxy. Unset: nothing is reported.
if env_str("GRIDGOV_CSP_REPORT_URI", ""):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = env_str("GRIDGOV_CSP_REPORT_URI", "")

# --- base data search and jobs (issue 11)
# Searches by ID number, phone or name per user and window (gridgov/people/search.py), counted in the
# shared cache: "30/h", "5/m", "100/d", "10/300s".
PEOPLE_SEARCH_RATE = env_str("GRIDGOV_PEOPLE_SEARCH_RATE", "30/h")
# A queued or running import / export with no heartbeat for this long is stale (gridgov/people/sweep.py);
# a dry run (one transaction, no heartbeat while it runs) after the longer limit.
PEOPLE_JOB_STALE_SECONDS = env_int("GRIDGOV_PEOPLE_JOB_STALE_SECONDS", 900)
PEOPLE_JOB_DRY_RUN_STALE_SECONDS = env_int("GRIDGOV_PEOPLE_JOB_DRY_RUN_STALE_SECONDS", 6 * 3600)
# Starts of an import before the sweeper gives it up (its owner may still restart it).
PEOPLE_JOB_MAX_ATTEMPTS = env_int("GRIDGOV_PEOPLE_JOB_MAX_ATTEMPTS", 3)

# --- public feed and photos (issue 11)
# The public Open311 feed shows a case of a matter not in public space at a point rounded to a grid of
# this many metres (the centre of its square), never where it was reported.
OPEN311_POSITION_GRID_M = env_int("OPEN311_POSITION_GRID_M", 100)
# Photos are re-encoded from their pixels; the long edge of a stored original is at most this many
# pixels (larger ones are scaled down), of a thumbnail this many.
CASE_PHOTO_MAX_EDGE = env_int("CASE_PHOTO_MAX_EDGE", 2560)
CASE_PHOTO_THUMB_EDGE = env_int("CASE_PHOTO_THUMB_EDGE", 320)
# An upload declaring more pixels than this is refused before it is decoded (decompression bombs).
CASE_PHOTO_MAX_PIXELS = env_int("CASE_PHOTO_MAX_PIXELS", 40_000_000)

# --- upload limits (issue 11)
# Caps per kind of upload (grid maps, people imports, catalogue workbooks), checked by gridgov.core.uploads
# before anything is decompressed: the file as uploaded, each file inside an archive (a zipped Shapefile; an
# XLSX is a zip too) and all of them together once inflated, the number of files in an archive and how
# many times a file may inflate (members smaller than the floor are not held to the ratio).
_MB = 1 << 20
UPLOAD_MAX_BYTES = {
    "gridmap": env_int("UPLOAD_GRIDMAP_MAX_BYTES", 20 * _MB),
    "people": env_int("UPLOAD_PEOPLE_MAX_BYTES", 50 * _MB),
    "catalogue": env_int("UPLOAD_CATALOGUE_MAX_BYTES", 10 * _MB),
}
UPLOAD_MEMBER_MAX_BYTES = {
    "gridmap": env_int("UPLOAD_GRIDMAP_MEMBER_MAX_BYTES", 200 * _MB),
    "people": env_int("UPLOAD_PEOPLE_MEMBER_MAX_BYTES", 512 * _MB),
    "catalogue": env_int("UPLOAD_CATALOGUE_MEMBER_MAX_BYTES", 50 * _MB),
}
UPLOAD_UNCOMPRESSED_MAX_BYTES = {
    "gridmap": env_int("UPLOAD_GRIDMAP_UNCOMPRESSED_MAX_BYTES", 300 * _MB),
    "people": env_int("UPLOAD_PEOPLE_UNCOMPRESSED_MAX_BYTES", 1024 * _MB),
    "catalogue": env_int("UPLOAD_CATALOGUE_UNCOMPRESSED_MAX_BYTES", 100 * _MB),
}
UPLOAD_ZIP_MAX_MEMBERS = env_int("UPLOAD_ZIP_MAX_MEMBERS", 500)
UPLOAD_ZIP_MAX_RATIO = env_float("UPLOAD_ZIP_MAX_RATIO", 100.0)
UPLOAD_ZIP_RATIO_FLOOR_BYTES = env_int("UPLOAD_ZIP_RATIO_FLOOR_BYTES", 1 * _MB)
# A workbook sheet up to this size (uncompressed XML) is read with calamine, which holds the sheet in memory;
# a larger one is streamed row by row with openpyxl.
UPLOAD_XLSX_IN_MEMORY_BYTES = env_int("UPLOAD_XLSX_IN_MEMORY_BYTES", 32 * _MB)
# JSON request bodies and GeoJSON files: deeper nesting is refused with a 400 (gridgov.core.uploads).
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 32)
MIDDLEWARE = [*MIDDLEWARE, "gridgov.core.uploads.JsonDepthMiddleware"]
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "gridgov.core.parsers.JSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]
# Grid maps: at most this many features in one file; above the inline threshold the dry run (and the
# confirmed import) of the management page runs as a background task with a progress page.
GRIDMAP_MAX_FEATURES = env_int("GRIDMAP_MAX_FEATURES", 50_000)
GRIDMAP_INLINE_FEATURES = env_int("GRIDMAP_INLINE_FEATURES", 2_000)
# Vertices of one cell polygon (all its rings and parts); more is refused with a per-row error.
TERRITORY_MAX_VERTICES = env_int("TERRITORY_MAX_VERTICES", 20_000)

# --- identity and rate limits (issue 11)
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
                  "gridgov.accounts.middleware.IdleTimeoutMiddleware")
# Reverse proxies whose X-Forwarded-For is believed (CIDRs, comma-separated). The client address is the
# rightmost address of that header not in these networks; from any other peer the header is ignored.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
# Counters of every rate limit live in this named cache, shared by every process: a table of the database
# (created by `migrate`) by default, Redis when REDIS_URL is set.
RATELIMIT_CACHE = "ratelimit"
CACHES[RATELIMIT_CACHE] = (
    {"BACKEND": "gridgov.core.cache.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "rl"}
    if REDIS_URL else
    {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "gridgov_ratelimit_cache",
     "OPTIONS": {"MAX_ENTRIES": 100000}}
)
# Login failures: an address is refused after LOGIN_ADDRESS_FAILURES failures within LOGIN_WINDOW_MINUTES
# (any names); one name from one address after LOGIN_FAILURE_LIMIT failures, then for a delay that doubles
# with each further failure (LOGIN_BACKOFF_SECONDS, at most LOGIN_LOCKOUT_MINUTES). The account itself is
# locked for LOGIN_LOCKOUT_MINUTES only after LOGIN_ACCOUNT_LOCK_FAILURES failures in a row coming from at
# least LOGIN_ACCOUNT_LOCK_ADDRESSES different addresses (0 = never lock the account); an administrator
# unlocks it earlier.
LOGIN_WINDOW_MINUTES = env_int("LOGIN_WINDOW_MINUTES", 15)
LOGIN_ADDRESS_FAILURES = env_int("LOGIN_ADDRESS_FAILURES", 30)
LOGIN_BACKOFF_SECONDS = env_int("LOGIN_BACKOFF_SECONDS", 60)
LOGIN_ACCOUNT_LOCK_FAILURES = env_int("LOGIN_ACCOUNT_LOCK_FAILURES", 20)
LOGIN_ACCOUNT_LOCK_ADDRESSES = env_int("LOGIN_ACCOUNT_LOCK_ADDRESSES", 3)
# REST API: unsafe requests (POST, PUT, PATCH, DELETE) per minute, per user and per address.
API_WRITES_PER_MINUTE_USER = env_int("API_WRITES_PER_MINUTE_USER", 120)
API_WRITES_PER_MINUTE_ADDRESS = env_int("API_WRITES_PER_MINUTE_ADDRESS", 300)
# Open311: service requests posted per hour from one address (every API key behind it counts).
OPEN311_POSTS_PER_HOUR = env_int("OPEN311_POSTS_PER_HOUR", 120)
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["gridgov.core.ratelimit.WriteUserThrottle",
                                              "gridgov.core.ratelimit.WriteAddressThrottle"]
# API tokens (django-rest-knox): sent as "Authorization: Token <key>", valid for API_TOKEN_HOURS, and refused
# once the password changed after they were issued, or the account is locked or deactivated.
API_TOKEN_HOURS = env_int("API_TOKEN_HOURS", 10)
REST_KNOX = {"TOKEN_TTL": dt.timedelta(hours=API_TOKEN_HOURS), "AUTH_HEADER_PREFIX": "Token",
             "TOKEN_LIMIT_PER_USER": None, "AUTO_REFRESH": False}
# Two factors (TOTP, django-otp) for staff, administrators and holders of roles that may reveal personal data.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "gridgov")
# Sessions end after SESSION_IDLE_MINUTES without a request (sliding), and SESSION_COOKIE_AGE after login at most.
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
# Password policy preset: "MLPS" (GB/T 22239 level 3: at least 8 characters of 3 of the 4 classes, none of the
# last 5 passwords, changed every 90 days) or "ASVS" (OWASP ASVS: at least 12 characters, no composition rules,
# no common passwords, no expiry).
PASSWORD_POLICY = env_str("PASSWORD_POLICY", "MLPS").strip().upper()
_PASSWORD_PRESETS = {
    "MLPS": {
        "validators": [
            {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
            {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
            {"NAME": "gridgov.accounts.passwords.CharacterClassesValidator", "OPTIONS": {"min_classes": 3}},
            {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
            {"NAME": "gridgov.accounts.passwords.PasswordHistoryValidator", "OPTIONS": {"count": 5}},
        ],
        "max_age_days": 90,
    },
    "ASVS": {
        "validators": [
            {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
            {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
        ],
        "max_age_days": 0,
    },
}
if PASSWORD_POLICY not in _PASSWORD_PRESETS:
    raise ValueError(f"PASSWORD_POLICY must be one of {', '.join(_PASSWORD_PRESETS)}, got {PASSWORD_POLICY!r}")
AUTH_PASSWORD_VALIDATORS = _PASSWORD_PRESETS[PASSWORD_POLICY]["validators"]
# days a password stays valid (0 = no expiry); an expired password must be changed right after the login
PASSWORD_MAX_AGE_DAYS = env_int("PASSWORD_MAX_AGE_DAYS", _PASSWORD_PRESETS[PASSWORD_POLICY]["max_age_days"])
