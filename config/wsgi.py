import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")  # overridden by tests and make run
application = get_wsgi_application()

from django.conf import settings  # noqa: E402

from gridgov.core.serving import serve_guard_startup  # noqa: E402 (needs the apps loaded above)

if settings.SERVE_GUARD_AT_STARTUP:
    serve_guard_startup()  # a WSGI server's address is unknown here: never DEBUG or demo logins unless allowed
