from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "gridgov.accounts"
    label = "accounts"
    verbose_name = _("Accounts and people in charge")

    def ready(self):
        # the session clocks start at every login, whichever path logged in (see accounts.middleware)
        from gridgov.accounts import middleware  # noqa: F401

        # registration only: node_split / node_merge / node_retire call the followers in their transaction
        from gridgov.accounts.reorganise import assignments_follow_reorganise
        from gridgov.territory.services import REORGANISE_FOLLOWERS

        if assignments_follow_reorganise not in REORGANISE_FOLLOWERS:
            REORGANISE_FOLLOWERS.append(assignments_follow_reorganise)
