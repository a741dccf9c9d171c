"""`manage.py api_client_create NAME --scheme KEY [--channel OPEN311] [--user USERNAME]`: a machine
client (an Open311 app, the hotline bridge ...) and its API key, printed once: only its digest is kept."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gridgov.cases.models import Channel
from gridgov.integrations.services import CLIENT_CHANNELS, api_client_create


class Command(BaseCommand):
    help = "Create an API client and print its key (shown once)"

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scheme", required=True, help="key of the level scheme (the Open311 jurisdiction)")
        parser.add_argument("--channel", default=Channel.OPEN311, choices=[str(c) for c in CLIENT_CHANNELS])
        parser.add_argument("--user", default="", help="an existing login to act as (default: a new service login)")

    def handle(self, *args, name, scheme, channel, user, **options):
        try:
            client, key = api_client_create(name=name, scheme=scheme, channel=channel, username=user)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {m}" for k, ms in exc.message_dict.items() for m in ms)) from None
        self.stdout.write(f"API client {client.name} for {client.scheme.key} ({client.channel}), "
                          f"acting as {client.user.username}")
        self.stdout.write(f"key: {key}")
        self.stdout.write("The key is shown only now: store it in the client's configuration.")
