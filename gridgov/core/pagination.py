"""The API's one pagination: limit / offset, with both kept inside what a database can take.

DRF's `LimitOffsetPagination` passes any positive integer through to the query; a `limit` or `offset` past
64 bits ends in a server error (SQLite: "datatype mismatch", PostgreSQL: "bigint out of range"). A page
holds at most `API_MAX_PAGE_SIZE` rows, and an offset past any real table simply reads an empty page."""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination

MAX_OFFSET = 2**31 - 1  # beyond every table of a deployment; keeps LIMIT + OFFSET inside 64 bits


class Pagination(LimitOffsetPagination):
    @property
    def max_limit(self) -> int:
        return settings.API_MAX_PAGE_SIZE

    def get_offset(self, request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)
