"""Step-up: sensitive actions ask again for the second factor when the last one is older than a short window.

* Pages: `@step_up_required` (or `StepUpRequiredMixin`) sends the user to the code prompt and back.
* API: `check_api_step_up(request)` (or `StepUpAPIMixin` with `step_up_methods`) answers 403 with code 40301
  and a clear message. Only session callers (the browser) are asked: JWT and API-token clients are exempt —
  they are service clients whose token is the credential.
* Users without a device pass (tenant administrators are made to enrol at sign-in; see ForceEnrollmentMiddleware).

The window is `STEP_UP_WINDOW_SECONDS` (10 minutes by default), counted from the last code entered.
"""

from __future__ import annotations

import functools
import time
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from accounts import totp
from crm_project.api import codes
from crm_project.api.exceptions import ApiError

SESSION_STEP_UP_AT = "secauth_step_up_at"
SESSION_ENROLL_REQUIRED = "secauth_enroll_required"


def window_seconds() -> int:
    return int(getattr(settings, "STEP_UP_WINDOW_SECONDS", 600))


def mark_verified(request) -> None:
    """The user just entered a valid second factor: the step-up window starts now."""
    request.session[SESSION_STEP_UP_AT] = time.time()


def is_fresh(request) -> bool:
    at = request.session.get(SESSION_STEP_UP_AT) if hasattr(request, "session") else None
    return isinstance(at, (int, float)) and 0 <= time.time() - at <= window_seconds()


def needs_step_up(request) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    return not is_fresh(request) and totp.has_device(user)


def _back_to(request) -> str:
    if request.method == "GET":
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, {request.get_host()}, require_https=request.is_secure()):
        return referer
    return reverse("dashboard")


def step_up_url(request) -> str:
    return f"{reverse('accounts:step_up')}?{urlencode({'next': _back_to(request)})}"


def step_up_response(request):
    """Send the user to the code prompt (htmx: by the HX-Redirect header), coming back afterwards."""
    url = step_up_url(request)
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def step_up_required(view=None, *, methods: tuple[str, ...] | None = None):
    """Page decorator: with a device and no code in the last window, ask for the code first.

    `@step_up_required` guards every method; `@step_up_required(methods=("POST",))` only those.
    """

    def decorate(func):
        @functools.wraps(func)
        def wrapper(request, *args, **kwargs):
            if (methods is None or request.method in methods) and needs_step_up(request):
                return step_up_response(request)
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


def value_differs(old, raw) -> bool:
    """True when a submitted amount `raw` is not the current `old` (unparsable counts as a change)."""
    from decimal import Decimal, InvalidOperation

    if raw is None:
        return False
    try:
        return Decimal(str(raw).replace(",", "").strip() or "0") != Decimal(str(old if old is not None else "0"))
    except (InvalidOperation, ValueError):
        return True


class StepUpRequiredMixin:
    """Class-based page variant of `step_up_required` (every method, or only `step_up_methods` when set)."""

    step_up_methods: tuple[str, ...] | None = None

    def dispatch(self, request, *args, **kwargs):
        if (self.step_up_methods is None or request.method in self.step_up_methods) and needs_step_up(request):
            return step_up_response(request)
        return super().dispatch(request, *args, **kwargs)


class StepUpRequired(ApiError):
    """403 with business code 40301: the browser must ask for the second factor again."""

    def __init__(self):
        super().__init__(
            codes.STEP_UP_REQUIRED,
            str(
                _(
                    "This action needs your second factor again: confirm your authenticator code at "
                    "/accounts/step-up/ and retry (valid for %(minutes)d minutes)."
                )
                % {"minutes": window_seconds() // 60}
            ),
            status_code=403,
        )


def _session_caller(request) -> bool:
    """True when DRF authenticated the request from the browser session (not a JWT or an API token)."""
    from accounts.authentication import TenantSessionAuthentication

    authenticator = getattr(request, "successful_authenticator", None)
    return isinstance(authenticator, TenantSessionAuthentication)


def check_api_step_up(request) -> None:
    """Raise `StepUpRequired` (403, code 40301) for a session caller whose step-up window has expired."""
    if _session_caller(request) and needs_step_up(request):
        raise StepUpRequired()


class StepUpAPIMixin:
    """DRF views: `step_up_methods = ("DELETE",)` asks session callers for a fresh second factor on those methods."""

    step_up_methods: tuple[str, ...] = ("POST", "PUT", "PATCH", "DELETE")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in self.step_up_methods:
            check_api_step_up(request)


def enrolment_pending(request, user=None) -> bool:
    """True while the signed-in session must enrol a second factor before anything else (the flag set at sign-in
    for a user who needs one and has none); the flag is dropped once a device is confirmed."""
    session = getattr(request, "session", None)
    user = user if user is not None else getattr(request, "user", None)
    if session is None or not session.get(SESSION_ENROLL_REQUIRED) or user is None or not user.is_authenticated:
        return False
    if totp.has_device(user):
        session.pop(SESSION_ENROLL_REQUIRED, None)
        return False
    return True


class EnrolmentRequired(ApiError):
    """403 with business code 40302: a browser session that must enrol its second factor calls the API."""

    def __init__(self):
        super().__init__(
            codes.ENROLMENT_REQUIRED,
            str(
                _(
                    "Your account must set up two-step sign-in before using the API from the browser: open "
                    "/accounts/two-factor/, confirm a code from your authenticator app, then retry."
                )
            ),
            status_code=403,
        )


class ForceEnrollmentMiddleware:
    """After a sign-in (password or SSO) that found a user who needs a second factor and has none, every staff page
    sends to the enrolment page until a device is confirmed (sign-out, language and static files stay reachable).

    The API is left to DRF: `TenantSessionAuthentication` answers 403 (code 40302) to session callers of such a
    session, while API tokens and JWTs (no session) keep their own rules."""

    ALLOWED_PREFIXES = ("/accounts/two-factor/", "/accounts/logout/", "/i18n/", "/static/", "/healthz", "/api/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(self.ALLOWED_PREFIXES) and enrolment_pending(request):
            return redirect("accounts:two_factor")
        return self.get_response(request)
