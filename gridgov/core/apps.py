from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "gridgov.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from gridgov.core import checks  # noqa: F401  (registers the system checks)
        from gridgov.core.statements import driver_cache_widen

        driver_cache_widen()
