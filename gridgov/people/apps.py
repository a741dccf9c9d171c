from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "gridgov.people"
    label = "people"
    verbose_name = _("Base data (people, houses, units)")
    default_auto_field = "django.db.models.BigAutoField"
