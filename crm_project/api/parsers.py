"""JSON bodies within limits: too large → 413, nested too deep → 400, never a 500."""

from __future__ import annotations

import io

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


def body_limit() -> int | None:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class SafeJSONParser(JSONParser):
    """DRF's JSON parser with Django's body size limit (DRF streams the body past it) and a depth guard."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = body_limit()
        request = (parser_context or {}).get("request")
        if limit is not None and request is not None:
            meta = request._request.META
            try:
                length = int(meta.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise PayloadTooLarge(_("The request body is too large (at most %(limit)d bytes).") % {"limit": limit})
            if stream is not None:
                # Content-Length may lie (or be absent with chunked bodies): read at most one byte past the limit.
                data = stream.read(limit + 1)
                if len(data) > limit:
                    raise PayloadTooLarge(
                        _("The request body is too large (at most %(limit)d bytes).") % {"limit": limit}
                    )
                stream = io.BytesIO(data)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("JSON parse error - the document is nested too deeply.")) from None
