"""Fields the base-data serializers share: masked personal fields, ids, trimmed text, attributes."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gridgov.privacy.access import masked_value

MAX_ID = 2**63 - 1

def no_nul(value: Any) -> None:
    """JSON going into the database must not hold NUL characters (PostgreSQL refuses them)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(_("Null characters are not allowed."))
    elif isinstance(value, dict):
        for key, item in value.items():
            no_nul(key)
            no_nul(item)
    elif isinstance(value, list):
        for item in value:
            no_nul(item)

# ------------------------------------------------------------------------------------------- serializers
@extend_schema_field(OpenApiTypes.STR)
class MaskedField(serializers.Field):
    """A personal field, masked (`access.masked_value`)."""

    def __init__(self, personal: str, *, source_record: str | None = None, **kwargs):
        self.personal = personal
        self.source_record = source_record  # the personal field is on a related record (membership → resident)
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value):
        if self.source_record:
            value = getattr(value, self.source_record)
        return masked_value(value, self.personal)

# ---------------------------------------------------------------------------------------- input bodies
def id_field(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)

def text_field(limit: int, **kwargs):
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_blank", True)
    return serializers.CharField(max_length=limit, trim_whitespace=True, **kwargs)

class AttributesField(serializers.DictField):
    def __init__(self, **kwargs):
        super().__init__(required=False, validators=[no_nul], **kwargs)
