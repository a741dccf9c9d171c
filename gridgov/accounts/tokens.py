"""API tokens (django-rest-knox): obtained at `POST /api/accounts/token` with the password (and the TOTP
code for those who must use two factors), sent as `Authorization: Token <key>`, stored only as digests,
expiring after `API_TOKEN_HOURS` (checked by `accounts.authentication`)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, inline_serializer
from knox.models import AuthToken
from knox.settings import knox_settings
from knox.signals import token_expired
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from gridgov.accounts import security
from gridgov.accounts.passwords import password_expired
from gridgov.core.api import client_address


def token_issue(user) -> tuple[AuthToken, str]:
    """A new API token for `user`; the user's expired tokens are deleted first (the check of each request
    refuses an expired token by itself and no longer looks up the others)."""
    for old in AuthToken.objects.filter(user=user, expiry__lt=timezone.now()):
        old.delete()
        token_expired.send(sender=token_issue, username=user.get_username(), source="other_token")
    return AuthToken.objects.create(user=user, expiry=knox_settings.TOKEN_TTL)


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(label=gettext_lazy("Username"), max_length=150)
    password = serializers.CharField(label=gettext_lazy("Password"), max_length=256, trim_whitespace=False,
                                     style={"input_type": "password"})
    otp = serializers.CharField(label=gettext_lazy("Two-factor code"), max_length=12, required=False,
                                allow_blank=True,
                                help_text=gettext_lazy("The 6-digit code of your authenticator app (required for "
                                                       "staff and for roles that may reveal personal data)"))


class TokenView(APIView):
    """Exchange a username and password (and the TOTP code when required) for an expiring API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenRequestSerializer, responses={200: inline_serializer(
        "Token", {"token": serializers.CharField(), "expiry": serializers.DateTimeField()})})
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username, otp = data.validated_data["username"], (data.validated_data.get("otp") or "").strip()
        address = client_address(request)
        user = authenticate(request._request, username=username, password=data.validated_data["password"])
        if user is None:
            hold = getattr(request._request, "gridgov_login_hold", None)
            if hold:
                return Response({"detail": _("Too many failed logins from your address: try again in %(s)d "
                                             "seconds.") % {"s": hold}},
                                status=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(hold)})
            raise exceptions.ValidationError({"non_field_errors": [_("Unable to log in with these credentials.")]})
        two_factor = False
        if security.asks_second_factor(user):
            device = security.two_factor_device(user)
            if device is None:
                raise exceptions.PermissionDenied(_("This account must use two factors: log in on the web once to "
                                                    "set up your authenticator app, then ask for a token again."))
            if not otp or not device.verify_token(otp):
                security.login_failed(username=username, user=user, address=address, reason="second_factor")
                raise exceptions.ValidationError({"otp": [_("the two-factor code is missing or wrong")]})
            two_factor = True
        if password_expired(user):
            raise exceptions.PermissionDenied(_("Your password has expired: change it on the web, then ask for a "
                                                "token again."))
        instance, token = token_issue(user)
        security.login_logged(user=user, address=address, how="token", two_factor=two_factor)
        return Response({"token": token, "expiry": instance.expiry})
