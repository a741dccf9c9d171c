from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "gridgov.dashboard"
    label = "dashboard"
    verbose_name = _("Command centre and dashboard")
    default_auto_field = "django.db.models.BigAutoField"
