"""Deeply nested JSON is a 400 naming the limit on every JSON endpoint (the unauthenticated token endpoint,
the REST API, Open311), never a 500 (RecursionError)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

DEEP = '{"username": ' + "[" * 50_000 + "]" * 50_000 + "}"
JUST_TOO_DEEP = '{"points": ' + "[" * 32 + "]" * 32 + "}"


def post_json(client: Client, url: str, body: str):
    return client.post(url, data=body, content_type="application/json")


def test_the_unauthenticated_token_endpoint_answers_400():
    # given no login at all
    client = Client(raise_request_exception=False)

    # when
    res = post_json(client, reverse("api-token"), DEEP)

    # then
    assert res.status_code == 400
    assert "nested too deeply (at most 32 levels)" in res.json()["detail"]


@pytest.mark.parametrize("url", ["/api/territory/locate/bulk", "/api/people/imports/", "/api/cases/"])
def test_api_endpoints_answer_400(url):
    user = get_user_model().objects.create_superuser("root", password="Root-pass-2026!")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    for body in (DEEP, JUST_TOO_DEEP):
        res = post_json(client, url, body)
        assert res.status_code == 400, (url, res.status_code)
        assert "nested too deeply" in res.content.decode()


def test_open311_post_answers_400():
    client = Client(raise_request_exception=False)
    res = post_json(client, "/open311/v2/requests.json", DEEP)
    assert res.status_code == 400


def test_the_default_parser_limits_depth_where_the_middleware_is_not_in_front(rf):
    # given the API's default parser alone (a view reached some other way than through the middleware)
    import io

    from rest_framework.exceptions import ParseError

    from gridgov.core.parsers import JSONParser

    # when / then
    with pytest.raises(ParseError, match="nested too deeply"):
        JSONParser().parse(io.BytesIO(DEEP.encode()), "application/json", {})
    assert JSONParser().parse(io.BytesIO(b'{"a": [[1]]}'), "application/json", {}) == {"a": [[1]]}


def test_json_within_the_limit_still_goes_through():
    user = get_user_model().objects.create_superuser("root", password="Root-pass-2026!")
    client = Client()
    client.force_login(user)
    res = post_json(client, "/api/territory/locate/bulk", '{"points": [[116.0, 40.0]]}')
    assert res.status_code == 200
