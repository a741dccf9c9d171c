from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "gridgov.privacy"
    label = "privacy"
    verbose_name = _("Personal data (sealing, masking, access log)")
    default_auto_field = "django.db.models.BigAutoField"
