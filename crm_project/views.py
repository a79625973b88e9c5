"""Project-level views: the dashboard, the health check and the error pages (envelope under /api/)."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from accounts.models import AuditLog, JobRun, Notification
from crm_project.api import codes
from crm_project.api.envelope import envelope

logger = logging.getLogger(__name__)


@login_required
def dashboard(request):
    """The CSM's start page; later apps add their cards (portfolio, renewals, tasks)."""
    context = {
        "recent_notifications": Notification.objects.filter(recipient=request.user)[:5],
        "unread_count": Notification.objects.filter(recipient=request.user, read_at__isnull=True).count(),
    }
    if request.user.has_perm("accounts.view_auditlog"):
        context["recent_audit"] = AuditLog.objects.select_related("actor")[:8]
    if request.user.has_perm("accounts.view_jobrun"):
        context["recent_jobs"] = JobRun.objects.all()[:5]
    context["cards"] = _dashboard_cards(request)
    return render(request, "dashboard.html", context)


def _dashboard_cards(request) -> list[str]:
    """The cards registered in `accounts.registry.dashboard_cards` the user may see, rendered in weight order."""
    from django.template.loader import render_to_string

    from accounts.registry import dashboard_cards

    rendered = []
    for card in dashboard_cards:
        if card.permission and not request.user.has_perm(card.permission):
            continue
        extra = card.context(request) if card.context is not None else {}
        rendered.append(render_to_string(card.template, {"card": card, **extra}, request=request))
    return rendered


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # the health check reports, it never raises
        logger.warning("health check: database unavailable: %s", exc)
        return "error"
    return "ok"


@functools.cache
def _redis_client(url: str):
    """One client (and connection pool) per process and URL, not a new connection per health check."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def _check_broker() -> str:
    if settings.CELERY_EMBEDDED:
        folder = settings.CELERY_BROKER_DIR / "out"
        return "ok" if folder.is_dir() else "error"
    try:
        _redis_client(settings.REDIS_URL).ping()
    except Exception as exc:
        logger.warning("health check: broker unavailable: %s", exc)
        return "error"
    return "ok"


def _check_cache() -> tuple[str, str]:
    """The shared cache, asked directly (the cache backend itself hides an outage from the pages)."""
    from django.core.cache import caches

    from crm_project.cache import PooledRedisCache

    backend = caches["default"]
    if not isinstance(backend, PooledRedisCache):
        return "ok", "local"
    try:
        backend._cache.get_client(write=True).ping()
    except Exception as exc:
        logger.warning("health check: cache unavailable: %s", exc)
        return "error", "redis"
    return "ok", "redis"


@never_cache
def healthz(request):
    """No authentication: 200 when the database and the broker answer, 503 otherwise.

    The cache is reported on its own: without it the web keeps serving (status `degraded`, still 200).
    """
    cache_state, cache_kind = _check_cache()
    state = {
        "database": _check_database(),
        "broker": _check_broker(),
        "broker_kind": "embedded" if settings.CELERY_EMBEDDED else "redis",
        "cache": cache_state,
        "cache_kind": cache_kind,
    }
    healthy = state["database"] == "ok" and state["broker"] == "ok"
    status = "ok" if healthy and cache_state == "ok" else "degraded" if healthy else "error"
    return JsonResponse({"status": status, **state}, status=200 if healthy else 503)


def _api_error_page(request, status: int, message: str):
    body = envelope(codes.STATUS_DEFAULT_CODE.get(status, status * 100), message, None)
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def page_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return _api_error_page(request, 404, _("Not found."))
    return render(request, "404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return _api_error_page(request, 500, _("Internal error; quote the trace_id when reporting it."))
    return render(request, "500.html", status=500)


def permission_denied(request, exception=None):
    if request.path.startswith("/api/"):
        return _api_error_page(request, 403, _("You do not have permission to perform this action."))
    return render(request, "403.html", status=403)


def bad_request(request, exception=None):
    if request.path.startswith("/api/"):
        return _api_error_page(request, 400, _("Bad request."))
    return render(request, "400.html", status=400)


def csrf_failure(request, reason=""):
    if request.path.startswith("/api/"):
        return _api_error_page(request, 403, _("CSRF check failed; send the X-CSRFToken header or use a bearer token."))
    return render(request, "403.html", {"reason": reason}, status=403)
