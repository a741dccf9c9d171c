"""OpenAPI post-processing: every operation documents the error answers the API really gives."""

from __future__ import annotations

ERROR_SCHEMAS = {
    "ValidationError": {
        "type": "object",
        "description": "field name → list of reasons (non_field_errors for the request as a whole)",
        "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"},
                                           {"type": "object"}]},
    },
    "ErrorDetail": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
        "additionalProperties": True,
    },
}
ERRORS = {
    "400": ("ValidationError", "Invalid input: the body names each field and the reason"),
    "401": ("ErrorDetail", "Not logged in"),
    "403": ("ErrorDetail", "Not allowed"),
    "404": ("ErrorDetail", "Not found, or outside your territory"),
    "405": ("ErrorDetail", "Method not allowed"),
    "406": ("ErrorDetail", "Not acceptable"),
    "415": ("ErrorDetail", "Unsupported media type"),
    "429": ("ErrorDetail", "Too many requests: wait the seconds in Retry-After"),
}


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.update(ERROR_SCHEMAS)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code, (schema, description) in ERRORS.items():
                responses.setdefault(code, {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
                })
    return result
