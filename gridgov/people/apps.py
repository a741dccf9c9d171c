from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "gridgov.people"
    label = "people"
    verbose_name = _("Base data (people, houses, legal entities)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # registration only: node_split / node_merge call the followers explicitly in their transaction
        from gridgov.people.reorganise import records_follow_reorganise
        from gridgov.territory.services import REORGANISE_FOLLOWERS

        if records_follow_reorganise not in REORGANISE_FOLLOWERS:
            REORGANISE_FOLLOWERS.append(records_follow_reorganise)
