"""Login with lock-out after repeated failures (MLPS level 3)."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import F
from django.utils import timezone

logger = logging.getLogger("gridgov.security")


class LockoutModelBackend(ModelBackend):
    """Like ModelBackend, but refuses a locked account and counts failures.

    After `LOGIN_FAILURE_LIMIT` failures in a row the account is locked for `LOGIN_LOCKOUT_MINUTES`;
    a successful login resets the count. The log names the user id, never the password or the name
    typed."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            user_model().set_password(password)  # same cost as a real check: no timing oracle
            return None
        now = timezone.now()
        if user.locked_until and user.locked_until > now:
            logger.warning("login refused: account %s locked until %s", user.pk, user.locked_until.isoformat())
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            if user.failed_login_count or user.locked_until:
                user_model.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
            return user
        user_model.objects.filter(pk=user.pk).update(failed_login_count=F("failed_login_count") + 1)
        user.refresh_from_db(fields=["failed_login_count"])
        if user.failed_login_count >= settings.LOGIN_FAILURE_LIMIT:
            until = now + dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
            user_model.objects.filter(pk=user.pk).update(locked_until=until, failed_login_count=0)
            logger.warning("account %s locked after %s failed logins", user.pk, settings.LOGIN_FAILURE_LIMIT)
        return None
