"""API token authentication (django-rest-knox tokens: digests only, with an expiry). A token is refused once
its account is locked or deactivated, or its password changed after the token was issued — whichever path
locked it or changed the password (the services also delete the tokens; this is the rule that holds even
when a path forgot to)."""

from __future__ import annotations

import binascii
from hmac import compare_digest

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from knox.signals import token_expired
from rest_framework import exceptions

from gridgov.accounts import security
from gridgov.core.statements import Compiled


# the tokens of a key with their user and person: compiled once per process (the ORM's compilation cost more
# than the read)
def _tokens_queryset(key: str):
    return get_token_model().objects.filter(token_key=key).select_related("user", "user__person")


_TOKENS = Compiled(_tokens_queryset)


class ExpiringTokenAuthentication(TokenAuthentication):
    """knox's token check in one statement per request: the token, its user and the user's person (whose
    name the answers show) are read together. An expired token is deleted and refused, as knox does; the
    user's *other* expired tokens are deleted when a new token is issued (`tokens.token_issue`) instead of
    being looked up on every request."""

    def authenticate_credentials(self, token):
        msg = _("Invalid token.")
        token = token.decode("utf-8")
        for auth_token in _TOKENS.rows(token[:CONSTANTS.TOKEN_KEY_LENGTH]):
            if auth_token.expiry is not None and auth_token.expiry < timezone.now():
                username = auth_token.user.get_username()
                auth_token.delete()
                token_expired.send(sender=self.__class__, username=username, source="auth_token")
                continue
            try:
                digest = hash_token(token)
            except (TypeError, binascii.Error):
                raise exceptions.AuthenticationFailed(msg) from None
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed(msg)

    def validate_user(self, auth_token):
        user = auth_token.user
        if not user.is_active or security.account_locked(user):
            raise exceptions.AuthenticationFailed(_("This account is locked or inactive."))
        if user.password_changed_at and auth_token.created < user.password_changed_at:
            auth_token.delete()
            raise exceptions.AuthenticationFailed(_("Invalid token: the password changed since it was issued."))
        return user, auth_token


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    """How the schema documents the token: `Authorization: Token <key>`, from POST /api/accounts/token."""

    target_class = "gridgov.accounts.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>`; keys expire (API_TOKEN_HOURS) and end with a password change, "
                               "a lock or a deactivation"}
