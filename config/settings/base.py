"""Settings shared by every environment. Values come from config.env (environment variables)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config.env import BASE_DIR, database_config, env_bool, env_float, env_int, env_list, env_str

VAR_DIR = BASE_DIR / env_str("GRIDGOV_VAR_DIR", "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env_str("SECRET_KEY", "insecure-dev-key-change-me-in-production-0123456789abcdef")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "huey.contrib.djhuey",
    "gridgov.core",
    "gridgov.territory",
    "gridgov.accounts",
    "gridgov.people",
    "gridgov.workdays",
    "gridgov.catalogue",
    "gridgov.cases",
    "gridgov.integrations",
    "gridgov.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
                "gridgov.core.workspaces.workspaces",
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
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["gridgov.accounts.backends.LockoutModelBackend"]
# Lock an account after this many failed logins in a row, for this many minutes.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 30)
# Keep the security audit log this many days (MLPS level 3: at least 180; less is refused).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 180)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "territory:home"  # the home page sends each user on to their workspace
SESSION_COOKIE_HTTPONLY = True
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

# Personal data at rest: ID numbers and phones are sealed with this key (base64 of 32 random bytes,
# `python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"`). Unset, a key derived
# from SECRET_KEY is used (development only; production refuses to start). Older keys, comma-separated,
# still open values sealed before a rotation. Cipher: AES-GCM, or SM4-GCM (商用密码; digests then use SM3).
PERSONAL_DATA_KEY = env_str("GRIDGOV_DATA_KEY", "")
PERSONAL_DATA_OLD_KEYS = env_list("GRIDGOV_DATA_OLD_KEYS", [])
PERSONAL_DATA_CIPHER = env_str("GRIDGOV_DATA_CIPHER", "AES-GCM")
if not PERSONAL_DATA_KEY:
    PERSONAL_DATA_KEY = base64.b64encode(hashlib.sha256(b"gridgov-dev-data-key" + SECRET_KEY.encode()).digest()).decode()
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
# logs (masked); gridgov.integrations.sms.HttpGatewayBackend posts to your operator's gateway.
SMS_BACKEND = env_str("SMS_BACKEND", "gridgov.integrations.sms.LogBackend")
SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL", "")
SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN", "")
SMS_SIGN = env_str("SMS_SIGN", "")
SMS_GATEWAY_TIMEOUT = env_float("SMS_GATEWAY_TIMEOUT", 10.0)
# public tracking page: satisfaction ratings per hour from one address
CASE_PUBLIC_RATINGS_PER_HOUR = env_int("CASE_PUBLIC_RATINGS_PER_HOUR", 10)
WHITENOISE_USE_FINDERS = True

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
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
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "gridgov.core.api.exception_handler",
}
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
        "AccessKindEnum": "gridgov.people.models.AccessKind",
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

# Map base layer (Leaflet). Empty = polygons on a plain background (offline intranet).
MAP_TILE_URL = env_str("MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = env_str("MAP_TILE_ATTRIBUTION", "")

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
