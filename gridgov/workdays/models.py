"""The working-day calendar: what the statutory data does not say, and the working hours of a deployment.

A day is a working day when (first match wins): a `CalendarDay` row says so or not (edited by
administrators: a year the `chinese-calendar` package does not cover yet, a local exception); else the
package's data for covered years (statutory holidays and the weekend days swapped into working days);
else the weekday rule (Monday to Friday). Working hours are periods of a day per level scheme, with a
default for schemes that have none.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

DEFAULT_PERIODS = [["08:30", "12:00"], ["13:30", "17:30"]]


class CalendarDay(models.Model):
    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=60, blank=True, help_text=_("e.g. 春节, 国庆节, 调休上班"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("updated by"))

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'workday' if self.is_workday else 'rest day'} {self.name}".strip()


class WorkSchedule(models.Model):
    """The working periods of a day (e.g. 08:30–12:00 and 13:30–17:30) for a scheme; the row without a
    scheme is the default."""

    scheme = models.OneToOneField("territory.LevelScheme", on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="work_schedule", verbose_name=_("level scheme"))
    periods = models.JSONField(_("working periods"), default=list,
                               help_text=_('A list of ["HH:MM", "HH:MM"] pairs in order, e.g. '
                                           '[["08:30", "12:00"], ["13:30", "17:30"]]'))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")

    def __str__(self) -> str:
        return f"{self.scheme.key if self.scheme_id else 'default'}: " + ", ".join("–".join(p) for p in self.periods)
