"""The password check of every login path (the login page, the admin login, the API token endpoint), with
the failure handling of MLPS level 3 (see `accounts.security`)."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from gridgov.accounts import security
from gridgov.core.api import client_address

logger = logging.getLogger("gridgov.security")


def _equal_cost(password: str) -> None:
    """Hash once, as a real check does, so a refused, locked or unknown account answers in the same time."""
    get_user_model()().set_password(password)


class LockoutModelBackend(ModelBackend):
    """Like ModelBackend, but held back by address and by (name, address) with backoff, refusing a locked
    account, counting and logging every failure. Every refusal costs one password hash.

    A held-back attempt sets `request.gridgov_login_hold` (seconds) so the page can say when to try again;
    it says nothing about the account."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        address = client_address(request) if request is not None else None
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        hold = security.login_hold(username=username, address=address)
        if hold is not None:
            _equal_cost(password)
            if request is not None:
                request.gridgov_login_hold = hold.retry_after
            security.login_failed(username=username, user=user, address=address, reason="held")
            return None
        if user is None:
            _equal_cost(password)
            security.login_failed(username=username, user=None, address=address, reason="unknown")
            return None
        if security.account_locked(user):
            _equal_cost(password)
            logger.warning("login refused: account %s locked until %s", user.pk, user.locked_until.isoformat())
            security.login_failed(username=username, user=user, address=address, reason="locked")
            return None
        if not user.check_password(password):
            security.login_failed(username=username, user=user, address=address, reason="password")
            return None
        if not self.user_can_authenticate(user):
            security.login_failed(username=username, user=user, address=address, reason="inactive")
            return None
        security.login_succeeded_password(username=username, user=user, address=address)
        return user

    def get_user(self, user_id):
        """A session of an account locked meanwhile ends with its next request, as one of a deactivated one."""
        user = super().get_user(user_id)
        if user is not None and security.account_locked(user):
            return None
        return user
