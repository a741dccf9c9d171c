import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_asgi_application()

from django.conf import settings  # noqa: E402

from gridgov.core.serving import serve_guard_startup  # noqa: E402 (needs the apps loaded above)

if settings.SERVE_GUARD_AT_STARTUP:
    serve_guard_startup()  # an ASGI server's address is unknown here: never DEBUG or demo logins unless allowed
