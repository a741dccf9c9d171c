"""What a reporter who left a mobile number is told, per step a transition reaches (`Transition.step`):
what happened, the tracking code and the tracking page — never a name, never the description, never who
handles it. Sent by `services.reporter.reporter_sms_send`."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy

from gridgov.cases.models import Case


def tracking_url(case: Case) -> str:
    return settings.SITE_URL + reverse("cases:track", args=[case.tracking_code])


# the message of each step (a `Transition.step`), naming the tracking code and the tracking page
STEP_TEXTS = {
    "registered": gettext_lazy("Your report %(code)s has been registered as a case and will be handled. Follow it: "
                               "%(url)s"),
    "rejected": gettext_lazy("Your report %(code)s was not taken up as a case. See its status: %(url)s"),
    "dispatched": gettext_lazy("Your report %(code)s has been passed to those who will handle it. Follow it: "
                               "%(url)s"),
    "handled": gettext_lazy("The problem of your report %(code)s has been handled and will be checked. Follow it: "
                            "%(url)s"),
    "closed": gettext_lazy("Your report %(code)s is closed. Tell us how it was handled: %(url)s"),
}


def reporter_sms_text(case: Case, step: str) -> str:
    """The message for `step`: what happened, the tracking code and where to follow it. Nothing else."""
    return str(STEP_TEXTS[step]) % {"code": case.tracking_code, "url": tracking_url(case)}
