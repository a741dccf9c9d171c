from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TerritoryConfig(AppConfig):
    name = "gridgov.territory"
    label = "territory"
    verbose_name = _("Territory")

    def ready(self):
        from gridgov.core.serving import DEMO_LOGIN_SOURCES
        from gridgov.territory.profiles import demo_logins_active

        DEMO_LOGIN_SOURCES.append(demo_logins_active)  # the serve guard refuses a public server with demo logins
