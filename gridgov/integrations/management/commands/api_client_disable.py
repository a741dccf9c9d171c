"""`manage.py api_client_disable NAME`: refuse the client's key from now on."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gridgov.integrations.services import api_client_disable


class Command(BaseCommand):
    help = "Disable an API client"

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        try:
            client = api_client_disable(client=name)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {m}" for k, ms in exc.message_dict.items() for m in ms)) from None
        self.stdout.write(f"API client {client.name} disabled")
