"""API token authentication (django-rest-knox tokens: digests only, with an expiry). A token is refused once
its account is locked or deactivated, or its password changed after the token was issued — whichever path
locked it or changed the password (the services also delete the tokens; this is the rule that holds even
when a path forgot to)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework import exceptions

from gridgov.accounts import security


class ExpiringTokenAuthentication(TokenAuthentication):
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
