from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SeedConfig(AppConfig):
    name = "gridgov.seed"
    label = "seed"
    verbose_name = _("Seed profiles and demo data")

    def ready(self):
        # registration only: serving refuses to start on the network while a demo login is active
        from gridgov.core.serving import DEMO_LOGIN_SOURCES
        from gridgov.seed.profiles import demo_logins_active

        if demo_logins_active not in DEMO_LOGIN_SOURCES:
            DEMO_LOGIN_SOURCES.append(demo_logins_active)
