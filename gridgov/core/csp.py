"""The Content-Security-Policy header (django-csp) with its text built once per process: django-csp builds
it anew from the settings on every response (copying and sorting each directive), the same text each time
but for the request's nonce. `CSPMiddleware` keeps the text of the settings' policy — with a mark where the
nonce goes, and without one for a response that used none — and puts the request's own nonce in its place;
a response carrying its own policy (django-csp's decorators) is built by django-csp as before. The kept
texts are dropped when a test changes the settings."""

from __future__ import annotations

import http.client

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, PolicyParts
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# where the nonce goes in a kept text: a NUL never stands in a setting's source list, nor in a nonce (base64)
NONCE_MARK = "\x00nonce\x00"
_kept: dict[tuple[bool, bool], str] = {}
SETTINGS = ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")


@receiver(setting_changed)
def _settings_changed(*, setting, **kwargs):
    if setting in SETTINGS:
        _kept.clear()


def policy_text(parts: PolicyParts, *, report_only: bool = False) -> str:
    """What django-csp's `build_policy(**asdict(parts), report_only=…)` gives, from the kept text when the
    response has no policy of its own."""
    if parts.config is not None or parts.update is not None or parts.replace is not None:
        return build_policy(config=parts.config, update=parts.update, replace=parts.replace, nonce=parts.nonce,
                            report_only=report_only)
    key = (report_only, bool(parts.nonce))
    text = _kept.get(key)
    if text is None:
        text = _kept[key] = build_policy(nonce=NONCE_MARK if parts.nonce else None, report_only=report_only)
    return text.replace(NONCE_MARK, parts.nonce) if parts.nonce else text


class CSPMiddleware(LibraryCSPMiddleware):
    """django-csp's middleware (4.0), its `process_response` the library's with the policy's text kept."""

    def process_response(self, request, response):
        if response.status_code in (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND) and settings.DEBUG:
            return response
        for report_only, header, name, exempt in (
                (False, HEADER, "CONTENT_SECURITY_POLICY", "_csp_exempt"),
                (True, HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro")):
            text = policy_text(self.get_policy_parts(request=request, response=response, report_only=report_only),
                               report_only=report_only)
            if not text or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = text
        # as the library: once the header is written, asking for a nonce is an error
        if getattr(request, "_csp_nonce", None) is None:
            request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
