"""Wraps whatever a view answers in the envelope, unless it already is one."""

from rest_framework.renderers import JSONRenderer

from crm_project.api import codes
from crm_project.api.envelope import envelope


class EnvelopeJSONRenderer(JSONRenderer):
    """JSON renderer that guarantees the envelope on every answer, errors included."""

    charset = "utf-8"
    ensure_ascii = False

    def render(self, data, accepted_media_type=None, renderer_context=None):
        renderer_context = renderer_context or {}
        response = renderer_context.get("response")
        if response is not None and not getattr(response, "is_envelope", False):
            status = response.status_code
            if status == 204:
                return b""
            code = status if status < 400 else codes.STATUS_DEFAULT_CODE.get(status, status * 100)
            data = envelope(code, codes.DESCRIPTIONS.get(code, ""), data)
        return super().render(data, accepted_media_type, renderer_context)
