"""Navigation, unread-notification count and tenant for the staff layout."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Notification

# (label, url name, permission needed or None). Later apps append their entries here.
NAV_ITEMS: list[tuple[str, str, str | None]] = [
    (_("Dashboard"), "dashboard", None),
    (_("Notifications"), "accounts:notifications", None),
    (_("Audit log"), "accounts:audit_log", "accounts.view_auditlog"),
    (_("Job runs"), "accounts:job_runs", "accounts.view_jobrun"),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith(("/api/", "/admin/")):
        return {}
    items = []
    for label, url_name, permission in NAV_ITEMS:
        if permission and not user.has_perm(permission):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": label, "url": url, "active": active, "icon": url_name})
    tenant = getattr(request, "tenant", None)
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True).count() if tenant else 0
    return {"nav_items": items, "unread_notifications": unread, "current_tenant": tenant}
