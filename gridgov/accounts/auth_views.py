"""The login flow, the same for the site and the admin: the password step, then — for whoever
`must_use_two_factors` — the TOTP code (or, without an authenticator yet, setting one up right away), then a
forced change of an expired password, and only then a session. Until the last step passes the session holds
a short-lived "pending" marker, never a login. Also: logout, the password change page and the two-factor
page of a logged-in user. Every login, logout and failure is audited with the client address."""

from __future__ import annotations

import base64
import time

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, password_validation, update_session_auth_hash
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from gridgov.accounts import security, services
from gridgov.accounts.passwords import password_expired
from gridgov.core.api import client_address

PENDING = "gridgov_login_pending"
PENDING_SECONDS = 300  # the second step and the forced password change must follow the password step soon


class LoginForm(AuthenticationForm):
    def get_invalid_login_error(self):
        hold = getattr(self.request, "gridgov_login_hold", None) if self.request is not None else None
        if hold:
            minutes = max(1, -(-hold // 60))
            return ValidationError(_("Too many failed logins from your address: try again in %(n)d minutes.")
                                   % {"n": minutes}, code="held")
        return super().get_invalid_login_error()


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code from your authenticator app"), max_length=12,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                         "autofocus": True}))

    def clean_code(self):
        return "".join(self.cleaned_data["code"].split())


# =========================================================================== the pending login
def _start(request, user, next_url: str) -> None:
    request.session[PENDING] = {"user": user.pk, "backend": user.backend, "next": next_url, "at": int(time.time()),
                                "second": False, "device": None}


def _pending(request):
    """(state, user) of the login in progress, or (None, None) when there is none or it went stale."""
    state = request.session.get(PENDING)
    if not state or time.time() - state["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None, None
    user = get_user_model().objects.filter(pk=state["user"], is_active=True).first()
    if user is None or security.account_locked(user):
        request.session.pop(PENDING, None)
        return None, None
    return state, user


def _save(request, state) -> None:
    request.session[PENDING] = state
    request.session.modified = True


def _next_step(request, state, user):
    """Send the pending login on to its next step, or complete it."""
    if security.asks_second_factor(user) and not state["second"]:
        has_device = security.two_factor_device(user) is not None
        return redirect("login-verify" if has_device else "login-enrol")
    if password_expired(user):
        return redirect("login-password")
    request.session.pop(PENDING, None)
    auth_login(request, user, backend=state["backend"])
    device = TOTPDevice.objects.filter(pk=state["device"], user=user).first() if state["device"] else None
    if device is not None:
        otp_login(request, device)
    how = "admin" if state["next"].startswith(reverse("admin:index")) else "session"
    security.login_logged(user=user, address=client_address(request), how=how, two_factor=device is not None)
    return redirect(state["next"])


def _restart(request, message: str):
    request.session.pop(PENDING, None)
    messages.error(request, message)
    return redirect("login")


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginView(auth_views.LoginView):
    """The password step (also at /admin/login/)."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        if self.request.path.startswith(reverse("admin:index")):
            return reverse("admin:index")
        return super().get_default_redirect_url()

    def form_valid(self, form):
        user = form.get_user()
        _start(self.request, user, self.get_success_url())
        return _next_step(self.request, self.request.session[PENDING], user)


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        security.logout_logged(user=request.user, address=client_address(request))
        return super().post(request, *args, **kwargs)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login_verify(request):
    """The second step: the code of the authenticator app."""
    state, user = _pending(request)
    if state is None:
        return redirect("login")
    device = security.two_factor_device(user)
    if device is None:
        return redirect("login-enrol")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            state.update(second=True, device=device.pk)
            _save(request, state)
            return _next_step(request, state, user)
        address = client_address(request)
        security.login_failed(username=user.get_username(), user=user, address=address, reason="second_factor")
        if security.login_hold(username=user.get_username(), address=address):
            return _restart(request, _("Too many wrong codes: log in again later."))
        form.add_error("code", _("This code is wrong or has expired: type the code your app shows now."))
    return render(request, "accounts/login_verify.html", {"form": form},
                  status=400 if request.method == "POST" else 200)


def _enrol_page(request, user, form, *, status: int = 200):
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("authenticator app"), confirmed=False)
    # inline SVG drawn by segno from the otpauth URL: paths only, no text of the user's (the title is ours)
    qr = segno.make(device.config_url, error="m").svg_inline(scale=5, border=2, title=_("QR code for your "
                                                                                           "authenticator app"))
    return device, render(request, "accounts/login_enrol.html", {
        "form": form, "qr": mark_safe(qr),  # noqa: S308
        "secret": base64.b32encode(device.bin_key).decode().rstrip("="),
    }, status=status)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login_enrol(request):
    """Setting up the authenticator app: a QR code (and the key to type), then a code from the app. In the
    login flow for whoever must use two factors and has no device yet; or for a logged-in user without one."""
    state, user = _pending(request)
    if state is None:
        if not request.user.is_authenticated:
            return redirect("login")
        user = request.user
    if security.two_factor_device(user) is not None:
        if state is not None:
            return redirect("login-verify")
        messages.info(request, _("Your two-factor login is set up. To move it to another phone, ask an "
                                 "administrator to reset it."))
        return redirect("password-change")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
        if device is not None and device.verify_token(form.cleaned_data["code"]):
            services.user_two_factor_enrol(user=user, device=device, address=client_address(request))
            if state is not None:
                state.update(second=True, device=device.pk)
                _save(request, state)
                return _next_step(request, state, user)
            otp_login(request, device)
            messages.success(request, _("Two-factor login is set up: from now on you log in with a code from your "
                                        "app."))
            return redirect("password-change")
        if state is not None:
            address = client_address(request)
            security.login_failed(username=user.get_username(), user=user, address=address, reason="second_factor")
            if security.login_hold(username=user.get_username(), address=address):
                return _restart(request, _("Too many wrong codes: log in again later."))
        form.add_error("code", _("This code is wrong or has expired: type the code your app shows now."))
        return _enrol_page(request, user, form, status=400)[1]
    return _enrol_page(request, user, form)[1]


def _password_rules() -> dict:
    """The password policy's rules, each as text (the form's own help is HTML built from them)."""
    return {"password_rules": password_validation.password_validators_help_texts()}


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "HEAD", "POST"])
def login_password(request):
    """An expired password is changed before the login completes."""
    state, user = _pending(request)
    if state is None:
        return redirect("login")
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_password_change(user=user, password=form.cleaned_data["new_password1"], actor=user,
                                      address=client_address(request))
        return _next_step(request, state, user)
    return render(request, "accounts/password_form.html", {"form": form, "expired": True, **_password_rules()},
                  status=400 if request.method == "POST" else 200)


@never_cache
@login_required
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@require_http_methods(["GET", "HEAD", "POST"])
def password_change(request):
    """Change one's password (the old one first; the policy applies). Other sessions and every API token of
    the account end; this session goes on."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_password_change(user=request.user, password=form.cleaned_data["new_password1"],
                                      actor=request.user, address=client_address(request))
        update_session_auth_hash(request, request.user)
        messages.success(request, _("Your password is changed. Your other sessions and API tokens have ended."))
        return redirect("password-change")
    return render(request, "accounts/password_form.html", {
        "form": form, "expired": False, "two_factor": security.two_factor_device(request.user) is not None,
        "must_two_factor": security.must_use_two_factors(request.user), **_password_rules(),
    }, status=400 if request.method == "POST" else 200)
