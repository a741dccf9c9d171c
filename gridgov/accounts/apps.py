from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "gridgov.accounts"
    label = "accounts"
    verbose_name = _("Accounts and people in charge")

    def ready(self):
        # the session clocks start at every login, whichever path logged in (see accounts.middleware)
        from gridgov.accounts import middleware  # noqa: F401
