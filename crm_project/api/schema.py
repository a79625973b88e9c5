"""drf-spectacular post-processing: the schema shows every answer inside the envelope, as it really is."""

from __future__ import annotations

from crm_project.api import codes

_ERROR_STATUSES = {
    "400": "Validation failed (code 40000 or a business code such as 40003/40005)",
    "401": "Not authenticated (code 40100)",
    "403": "Permission denied (code 40004)",
    "404": "Not found or not visible (code 40400, 40001 for customers)",
    "429": "Too many requests (code 42900)",
}


def _envelope_of(data_schema: dict | None) -> dict:
    return {
        "allOf": [
            {"$ref": "#/components/schemas/Envelope"},
            {"type": "object", "properties": {"data": data_schema or {"nullable": True}}},
        ]
    }


def wrap_in_envelope(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOK: wrap JSON bodies of success answers, add the error envelopes and the code list."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorCode"] = {
        "type": "integer",
        "enum": sorted(codes.DESCRIPTIONS),
        "description": "\n".join(f"* `{code}`: {text}" for code, text in sorted(codes.DESCRIPTIONS.items())),
    }
    schemas["Envelope"] = {
        "type": "object",
        "required": ["code", "message", "data", "timestamp", "trace_id"],
        "properties": {
            "code": {"$ref": "#/components/schemas/ErrorCode"},
            "message": {"type": "string"},
            "data": {"nullable": True},
            "timestamp": {"type": "string", "format": "date-time", "example": "2025-08-15T16:30:00Z"},
            "trace_id": {"type": "string", "example": "abc123def456"},
        },
    }
    schemas["ErrorEnvelope"] = _envelope_of(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "field": {"type": "string", "description": "The first field in error (validation only)."},
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Every field in error with its messages, nested fields as `contacts[0].email`.",
                },
            },
        }
    )
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in list(responses.items()):
                content = response.get("content", {})
                if status.startswith("2"):
                    json_body = content.get("application/json")
                    if json_body is not None:
                        json_body["schema"] = _envelope_of(json_body.get("schema"))
                    elif status != "204":
                        response["content"] = {"application/json": {"schema": _envelope_of(None)}}
            for status, description in _ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
                    },
                )
    return result


def register_extensions() -> None:
    """Tell drf-spectacular that our authentication classes are simplejwt's bearer and Django's session."""
    from drf_spectacular.authentication import SessionScheme
    from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme

    class TenantJWTScheme(SimpleJWTScheme):
        target_class = "accounts.authentication.TenantJWTAuthentication"
        name = "jwtAuth"

    class TenantSessionScheme(SessionScheme):
        target_class = "accounts.authentication.TenantSessionAuthentication"
        name = "cookieAuth"
