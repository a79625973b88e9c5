"""The one shape of every API answer: {"code", "message", "data", "timestamp", "trace_id"}."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rest_framework.response import Response

from crm_project.middleware import current_trace_id

ENVELOPE_KEYS = ("code", "message", "data", "timestamp", "trace_id")


def envelope(code: int, message: str, data: Any = None) -> dict[str, Any]:
    return {
        "code": code,
        "message": str(message),
        "data": data,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "trace_id": current_trace_id(),
    }


class EnvelopeResponse(Response):
    """A Response whose data is already an envelope; the renderer leaves it alone."""

    is_envelope = True


def api_response(data: Any = None, *, message: str = "", status: int = 200, code: int | None = None) -> Response:
    """A success answer with a chosen message (the PRD's "客户创建成功" style)."""
    from crm_project.api import codes

    if not message:
        message = codes.DESCRIPTIONS.get(status, codes.DESCRIPTIONS[codes.OK])
    return EnvelopeResponse(envelope(code or status, message, data), status=status)


def api_error(code: int, message: str, *, status: int, data: Any = None, headers: dict | None = None) -> Response:
    return EnvelopeResponse(envelope(code, message, data), status=status, headers=headers)
