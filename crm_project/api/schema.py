"""drf-spectacular post-processing: the schema shows every answer inside the envelope, as it really is."""

from __future__ import annotations

from crm_project.api import codes

_ERROR_STATUSES = {
    "400": "Validation failed (code 40000 or a business code such as 40003/40005)",
    "401": "Not authenticated (code 40100)",
    "403": "Permission denied (code 40004)",
    "404": "Not found or not visible (code 40400, 40001 for customers)",
    "429": "Too many requests (code 42900)",
    "503": "The database is busy (code 50300); retry after the `Retry-After` header's seconds",
}
# Answers only a request that writes can get.
_WRITE_ERROR_STATUSES = {
    "409": "Conflict with the current state: a duplicate, or a transition the object's state forbids (40002, 40900)",
    "413": "The request body is larger than the server accepts (code 41300)",
}
_WRITE_METHODS = {"post", "put", "patch", "delete"}


def _envelope_of(data_schema: dict | None) -> dict:
    return {
        "allOf": [
            {"$ref": "#/components/schemas/Envelope"},
            {"type": "object", "properties": {"data": data_schema or {"nullable": True}}},
        ]
    }


LOCAL_DATETIME = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$",
    "description": "Local date and time, `YYYY-MM-DD HH:MM:SS` (the PRD's format).",
    "example": "2025-08-15 16:30:00",
}


def _local_datetimes(node, *, request_body: bool) -> None:
    """Datetimes are sent as the PRD's `YYYY-MM-DD HH:MM:SS`, not RFC 3339: declare what is sent.

    Request bodies also accept ISO 8601 (`DATETIME_INPUT_FORMATS`), so they keep `date-time` and say both.
    """
    if isinstance(node, dict):
        if node.get("format") == "date-time" and node.get("type") == "string":
            if request_body:
                node["description"] = (node.get("description", "") + " `YYYY-MM-DD HH:MM:SS` or ISO 8601.").strip()
            else:
                node.pop("format")
                for key, value in LOCAL_DATETIME.items():
                    node.setdefault(key, value)
        for value in node.values():
            _local_datetimes(value, request_body=request_body)
    elif isinstance(node, list):
        for value in node:
            _local_datetimes(value, request_body=request_body)


def wrap_in_envelope(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOK: wrap JSON bodies of success answers, add the error envelopes and the code list."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, component in schemas.items():
        _local_datetimes(component, request_body=name.endswith("Request"))
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
        for method, operation in path_item.items():
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
            documented = dict(_ERROR_STATUSES)
            if method in _WRITE_METHODS:
                documented.update(_WRITE_ERROR_STATUSES)
            for status, description in sorted(documented.items()):
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
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    class TenantJWTScheme(SimpleJWTScheme):
        target_class = "accounts.authentication.TenantJWTAuthentication"
        name = "jwtAuth"

    class TenantSessionScheme(SessionScheme):
        target_class = "accounts.authentication.TenantSessionAuthentication"
        name = "cookieAuth"

    class ApiTokenScheme(OpenApiAuthenticationExtension):
        target_class = "accounts.api_tokens.ApiTokenAuthentication"
        name = "apiToken"

        def get_security_definition(self, auto_schema):
            return {
                "type": "http",
                "scheme": "bearer",
                "description": "Service-account API token `crm_…` (scoped, expiring; see accounts/api_tokens.py).",
            }

    class IntegrationSignatureScheme(OpenApiAuthenticationExtension):
        target_class = "accounts.integration.IntegrationSignatureAuthentication"
        name = "integrationSignature"

        def get_security_definition(self, auto_schema):
            return {
                "type": "apiKey",
                "in": "header",
                "name": "X-CRM-Signature",
                "description": "HMAC-SHA256 of `timestamp.body` with the integration key's secret, sent with "
                "`X-CRM-Key` and `X-CRM-Timestamp` (see accounts/integration.py).",
            }
