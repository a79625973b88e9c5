"""Navigation, unread-notification count and tenant for the staff layout."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Notification
from accounts.registry import NavItem, nav_items

# Domain apps register their own entries (with weights) from their AppConfig.ready().
for _item in (
    NavItem("dashboard", _("Dashboard"), "dashboard", None, weight=0),
    NavItem("notifications", _("Notifications"), "accounts:notifications", None, weight=800),
    NavItem("audit_log", _("Audit log"), "accounts:audit_log", "accounts.view_auditlog", weight=900),
    NavItem(
        "compliance_report", _("Compliance report"), "accounts:compliance_report", "accounts.view_auditlog", weight=905
    ),  # fmt: skip
    NavItem("job_runs", _("Job runs"), "accounts:job_runs", "accounts.view_jobrun", weight=910),
):
    nav_items.register(_item)


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith(("/api/", "/admin/")):
        return {}
    tenant = getattr(request, "tenant", None)
    items = []
    for item in nav_items:
        if item.permission and not user.has_perm(item.permission):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        # Badges count tenant-owned rows: a superuser without a tenant (the operator) sees none.
        badge = item.badge(request) if item.badge and tenant is not None else None
        items.append({"label": item.label, "url": url, "active": active, "icon": item.url_name, "badge": badge})
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True).count() if tenant else 0
    return {"nav_items": items, "unread_notifications": unread, "current_tenant": tenant}
