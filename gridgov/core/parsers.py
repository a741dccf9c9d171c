"""The API's default JSON parser (a module of its own: DRF imports it while loading its views, so it must
not import them)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers
from rest_framework.utils import json as drf_json

from gridgov.core.uploads import json_loads


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a depth limit (JSON_MAX_DEPTH): a body nested deeper is a 400 naming the
    limit, never a RecursionError (a 500). The default parser of every API view."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
            return json_loads(text, name=_("the request body"),
                              parse_constant=drf_json.strict_constant if self.strict else None)
        except ValueError as exc:  # JSONTooDeep, JSONDecodeError and UnicodeDecodeError alike
            raise exceptions.ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from None
