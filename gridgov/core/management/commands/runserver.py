"""`manage.py runserver` (what `make run HOST=...` starts), refusing to put DEBUG or demo logins on a network.

Replaces staticfiles' runserver (gridgov.core is listed before django.contrib.staticfiles) and keeps what
it does; see `gridgov.core.serving`."""

from __future__ import annotations

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserver
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from gridgov.core.serving import serve_guard_runserver


class Command(StaticfilesRunserver):
    def run(self, **options):
        try:
            serve_guard_runserver(self.addr)  # set by handle() from the addrport argument
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        super().run(**options)
