"""Filters shared by the APIs."""

from __future__ import annotations

from django import forms
from django_filters import rest_framework as filters


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class IdFilter(filters.NumberFilter):
    """A row id: a positive 64-bit integer, so an absurd value is a 400, not a database error."""

    field_class = IdField
