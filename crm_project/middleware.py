"""Trace ids: one per request, taken from `X-Request-ID` when the caller sends a sane one."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

_trace_id: contextvars.ContextVar[str] = contextvars.ContextVar("crm_trace_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_trace_id() -> str:
    """The trace id of the request or task being handled, or `-` outside one."""
    return _trace_id.get()


def new_trace_id() -> str:
    return uuid.uuid4().hex


class TraceIdMiddleware:
    """Reads or makes the trace id, exposes it as `request.trace_id`, echoes it as `X-Request-ID`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        # A caller-provided id is reused only when it is short and plain: it ends up in logs and headers.
        trace_id = incoming if _SAFE_ID.match(incoming) else new_trace_id()
        request.trace_id = trace_id
        token = _trace_id.set(trace_id)
        try:
            response = self.get_response(request)
        finally:
            _trace_id.reset(token)
        response["X-Request-ID"] = trace_id
        return response


class TraceIdLogFilter(logging.Filter):
    """Adds `trace_id` to every log record so the formatter can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = current_trace_id()
        return True


class DatabaseBusyMiddleware:
    """A database lock timeout outside DRF (staff pages, plain views) answers 503 with Retry-After, not 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.http import JsonResponse
        from django.shortcuts import render

        from crm_project.api import codes
        from crm_project.api.envelope import envelope
        from crm_project.api.exceptions import RETRY_AFTER_SECONDS, busy_message, database_busy

        if not database_busy(exception):
            return None
        logging.getLogger("crm.db").warning("database busy in %s %s: %s", request.method, request.path, exception)
        if request.path.startswith("/api/"):
            response = JsonResponse(
                envelope(codes.SERVICE_UNAVAILABLE, busy_message()),
                status=503,
                json_dumps_params={"ensure_ascii": False},
            )
        else:
            response = render(request, "503.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class ContentSecurityPolicyMiddleware:
    """django-csp's middleware, plus per-view relaxations declared in settings.CSP_VIEW_UPDATES.

    `CSP_VIEW_UPDATES = {"namespace:url_name": {"style-src": ["'unsafe-inline'"]}}` widens the policy of one view
    (a generated document with its own <style>), so the rest of the site keeps the strict one.
    """

    def __init__(self, get_response):
        from csp.middleware import CSPMiddleware

        self.get_response = get_response
        self._csp = CSPMiddleware(get_response)

    def __call__(self, request):
        from django.conf import settings

        self._csp.process_request(request)
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None:
            update = getattr(settings, "CSP_VIEW_UPDATES", {}).get(match.view_name)
            if update and not getattr(response, "_csp_update", None):
                response._csp_update = update
        return self._csp.process_response(request, response)
