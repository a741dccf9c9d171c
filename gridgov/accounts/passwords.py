"""Password policy pieces used by the presets in settings (`PASSWORD_POLICY`): Django password validators
and the expiry rule. The validators run wherever Django validates a password (the password pages, the
admin, `changepassword`); the history is written by Django's `password_changed` hook on every save of a
new password, whichever path set it."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def character_classes(password: str) -> int:
    """How many of the four classes (lower case, upper case, digits, other characters) occur."""
    return sum([any(c.islower() for c in password), any(c.isupper() for c in password),
                any(c.isdigit() for c in password), any(not c.isalnum() for c in password)])


class CharacterClassesValidator:
    """At least `min_classes` of lower case letters, upper case letters, digits and other characters."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    def validate(self, password, user=None):
        if character_classes(password) < self.min_classes:
            raise ValidationError(
                _("This password mixes too few kinds of characters: use at least %(n)d of lower case letters, "
                  "upper case letters, digits and other characters.") % {"n": self.min_classes},
                code="password_too_few_classes")

    def get_help_text(self):
        return _("Your password must contain at least %(n)d of: lower case letters, upper case letters, digits, "
                 "other characters.") % {"n": self.min_classes}


class PasswordHistoryValidator:
    """Not one of the last `count` passwords, the current one included (kept as hashes in `PasswordHistory`;
    a login from before the history counts its current password)."""

    def __init__(self, count: int = 5):
        self.count = count

    def _hashes(self, user) -> list[str]:
        from gridgov.accounts.models import PasswordHistory

        if user is None or not getattr(user, "pk", None):
            return []
        former = list(PasswordHistory.objects.filter(user=user).order_by("-set_at", "-id")
                      .values_list("password", flat=True)[: self.count])
        current = get_user_model()._default_manager.filter(pk=user.pk).values_list("password", flat=True).first()
        hashes = [current] if current else []
        hashes += [h for h in former if h != current]
        return hashes[: self.count]

    def validate(self, password, user=None):
        if any(check_password(password, h) for h in self._hashes(user)):
            raise ValidationError(
                ngettext("This password was used before: choose one that is not your last password.",
                         "This password was used before: choose one that is not one of your last %(n)d "
                         "passwords.", self.count) % {"n": self.count},
                code="password_reused")

    def password_changed(self, password, user=None):
        from gridgov.accounts.models import PasswordHistory

        if user is None or not user.pk or not user.password:
            return
        PasswordHistory.objects.create(user=user, password=user.password)
        keep = PasswordHistory.objects.filter(user=user).order_by("-set_at", "-id").values_list("pk", flat=True)
        PasswordHistory.objects.filter(user=user).exclude(pk__in=list(keep[: self.count])).delete()

    def get_help_text(self):
        return ngettext("Your password cannot be your last password.",
                        "Your password cannot be one of your last %(n)d passwords.", self.count) % {"n": self.count}


def password_expired(user, *, now: dt.datetime | None = None) -> bool:
    """The policy's expiry: the password was set more than `PASSWORD_MAX_AGE_DAYS` ago (0 = never expires).
    A login whose password never went through `set_password` here counts from when it joined."""
    days = getattr(settings, "PASSWORD_MAX_AGE_DAYS", 0)
    if not days or not user.has_usable_password():
        return False
    since = user.password_changed_at or user.date_joined
    return (now or timezone.now()) - since > dt.timedelta(days=days)
