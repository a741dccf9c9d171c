"""The policy's text kept per process (`core.csp.CSPMiddleware`) is django-csp's, header for header: with
the request's nonce or without one, with a response's own policy, a report-only policy, an excluded path,
and after the settings change; and each response still names its own request's nonce."""

from __future__ import annotations

import pytest
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from gridgov.core.csp import CSPMiddleware

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def _headers(middleware_class, path: str, *, nonce: str | None, response_attrs: dict) -> dict:
    request = RequestFactory().get(path)
    middleware = middleware_class(lambda r: HttpResponse("ok"))
    middleware.process_request(request)
    if nonce is not None:
        request._csp_nonce = nonce  # as a template asking `request.csp_nonce` leaves it
    response = HttpResponse("ok")
    for name, value in response_attrs.items():
        setattr(response, name, value)
    middleware.process_response(request, response)
    return {h: response.get(h) for h in HEADERS}


CASES = {
    "a page using its nonce": ("/login/", "bm9uY2Utb25l", {}),
    "an API answer using none": ("/api/cases/", None, {}),
    "a response with its own additions": ("/x/", "bm9uY2UtdHdv", {"_csp_update": {"img-src": ["https://a.example"]}}),
    "a response replacing a directive": ("/x/", None, {"_csp_replace": {"script-src": ["'self'", "https://b.example"]}}),
    "an exempt response": ("/x/", "bm9uY2UtdGhyZWU", {"_csp_exempt": True}),
}


@pytest.mark.parametrize("case", CASES)
def test_the_kept_policy_is_django_csps(case):
    path, nonce, attrs = CASES[case]
    # when the same request and response go through the library's middleware and ours (twice: built, kept)
    expected = _headers(LibraryCSPMiddleware, path, nonce=nonce, response_attrs=attrs)
    # then the headers are the same
    assert _headers(CSPMiddleware, path, nonce=nonce, response_attrs=attrs) == expected
    assert _headers(CSPMiddleware, path, nonce=nonce, response_attrs=attrs) == expected
    if nonce is not None and "_csp_exempt" not in attrs:
        assert f"'nonce-{nonce}'" in expected["Content-Security-Policy"]


def test_each_request_gets_its_own_nonce_in_the_kept_text():
    first = _headers(CSPMiddleware, "/login/", nonce="Zmlyc3Q", response_attrs={})["Content-Security-Policy"]
    second = _headers(CSPMiddleware, "/login/", nonce="c2Vjb25k", response_attrs={})["Content-Security-Policy"]
    assert "'nonce-Zmlyc3Q'" in first and "Zmlyc3Q" not in second and "'nonce-c2Vjb25k'" in second
    assert first.replace("Zmlyc3Q", "c2Vjb25k") == second


def test_a_change_of_the_settings_is_followed(settings):
    before = _headers(CSPMiddleware, "/x/", nonce=None, response_attrs={})
    # when the policy and a report-only policy with an excluded prefix are set
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"], "script-src": ["'self'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"EXCLUDE_URL_PREFIXES": ["/quiet/"],
                                                    "DIRECTIVES": {"default-src": ["'self'"]}}
    for path in ("/x/", "/quiet/page"):
        # then our headers are the library's under the new settings
        expected = _headers(LibraryCSPMiddleware, path, nonce=None, response_attrs={})
        assert _headers(CSPMiddleware, path, nonce=None, response_attrs={}) == expected
    assert _headers(CSPMiddleware, "/x/", nonce=None, response_attrs={}) != before
    assert _headers(CSPMiddleware, "/quiet/page", nonce=None, response_attrs={})[HEADERS[1]] is None
