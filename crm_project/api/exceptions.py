"""One exception handler: every error leaves the API as an envelope with a business code and a clear message."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions

from crm_project.api import codes
from crm_project.api.envelope import api_error

logger = logging.getLogger("crm.api")


class ApiError(exceptions.APIException):
    """A business error with its own code, e.g. ApiError(codes.CUSTOMER_DUPLICATE, msg, status=409)."""

    def __init__(self, code: int, message: str, *, status_code: int = 400, data: Any = None):
        super().__init__(detail=message)
        self.status_code = status_code
        self.business_code = code
        self.message = message
        self.data = data


class ApiValidationError(exceptions.ValidationError):
    """A validation error that carries a business code other than the generic 40000 (e.g. 40003, 40005)."""

    def __init__(self, detail, *, business_code: int = codes.VALIDATION_ERROR):
        super().__init__(detail)
        self.business_code = business_code


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"contacts[0].email": ["..."]}, so each message names its field."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # ListField child errors come keyed by position
                name = f"{prefix}[{key}]"
            else:
                name = str(key) if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors" and prefix:
                name = prefix
            flat.update(flatten_errors(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            flat.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    flat.update(flatten_errors(item, f"{prefix}[{index}]"))
    else:
        flat.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return flat


def validation_response(detail: Any, *, business_code: int = codes.VALIDATION_ERROR):
    errors = flatten_errors(detail)
    first_field, first_messages = next(iter(errors.items()), ("non_field_errors", [_("Invalid input.")]))
    if first_field == "non_field_errors":
        message = first_messages[0]
    else:
        message = f"{first_field}: {first_messages[0]}"
    return api_error(business_code, message, status=400, data={"field": first_field, "errors": errors})


RETRY_AFTER_SECONDS = 5
_BUSY_MYSQL_ERRNOS = {
    1205,  # lock wait timeout exceeded
    1213,  # deadlock found
    # The server went away (restart, failover, killed session): the transaction was rolled back, retrying is safe.
    1053,  # server shutdown in progress
    1927,  # connection was killed (MariaDB)
    2002,  # can't connect through the socket
    2003,  # can't connect to the server
    2006,  # server has gone away
    2013,  # lost connection during query
}


def database_busy(exc: BaseException) -> bool:
    """A lock the database gave up waiting for (SQLite "database is locked", MySQL 1205/1213) or a connection it
    dropped (restart, failover): the write was rolled back, the caller may retry later (503 + Retry-After)."""
    from django.db import OperationalError

    if not isinstance(exc, OperationalError):
        return False
    if "is locked" in str(exc):
        return True
    first = exc.args[0] if exc.args else None
    return isinstance(first, int) and first in _BUSY_MYSQL_ERRNOS


def busy_message() -> str:
    return _("The database is busy; retry in a few seconds.")


def envelope_exception_handler(exc: Exception, context: dict) -> Any:
    """DRF's EXCEPTION_HANDLER: maps every exception to an envelope; unknown ones are logged and answered 500."""
    view = context.get("view")
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, ApiError):
        return api_error(exc.business_code, exc.message, status=exc.status_code, data=exc.data)

    if isinstance(exc, exceptions.ValidationError):
        business_code = getattr(exc, "business_code", None)
        if business_code is None and view is not None and hasattr(view, "validation_error_code"):
            business_code = view.validation_error_code(flatten_errors(exc.detail))
        return validation_response(exc.detail, business_code=business_code or codes.VALIDATION_ERROR)

    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
        status_code = exc.status_code
        code = codes.STATUS_DEFAULT_CODE.get(status_code, status_code * 100)
        if status_code == 404 and view is not None and getattr(view, "not_found_code", None):
            code = view.not_found_code
        detail = exc.detail
        if isinstance(detail, (list, dict)):
            message = next(iter(flatten_errors(detail).values()))[0]
        else:
            message = str(detail)
        return api_error(code, message, status=status_code, headers=headers or None)

    request = context.get("request")
    if database_busy(exc):
        logger.warning(
            "database busy in %s %s: %s", getattr(request, "method", "?"), getattr(request, "path", "?"), exc
        )
        return api_error(
            codes.SERVICE_UNAVAILABLE, busy_message(), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    if isinstance(exc, RequestDataTooBig):
        return api_error(codes.PAYLOAD_TOO_LARGE, _("The request body is too large."), status=413)
    logger.exception(
        "unhandled error in %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"), exc_info=exc
    )
    return api_error(codes.SERVER_ERROR, _("Internal error; quote the trace_id when reporting it."), status=500)
