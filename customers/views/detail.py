"""The customer 360° page: header, tabs from customers.extensions, the timeline, delete."""

from __future__ import annotations

from urllib.parse import urlparse

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import AuditLog, User
from accounts.registry import audit_labels
from accounts.roles import can_see_amounts
from accounts.stepup import step_up_required
from crm_project.audit import ACCESS_PREFIX, CUSTOMER_VIEWED, record_access
from crm_project.ui import error_text, wants_partial
from customers import selectors, services
from customers.choices import InfluenceLevel
from customers.extensions import TimelineEntry, customer_tabs, customer_timeline, visible
from customers.forms import (
    ShareForm,
    TagForm,
)
from customers.models import Customer
from customers.views.common import (
    _USER_FIELDS,
    ASSIGN,
    DELETE,
    VIEW,
    _display_value,
    _field_label,
    _visible_or_404,
)


def audit_timeline_entries(request, customer: Customer, before, limit: int) -> list[TimelineEntry]:
    """The audit entries filed under this customer (any app's), with readable labels and user names."""
    entries_qs = AuditLog.objects.filter(object_type="customers.customer", object_id=str(customer.pk)).exclude(
        action__startswith=ACCESS_PREFIX
    )
    if before is not None:
        entries_qs = entries_qs.filter(created_at__lt=before)
    entries = list(entries_qs.order_by("-created_at", "-id")[:limit])
    user_ids = {
        value
        for entry in entries
        for name, change in (entry.changes or {}).items()
        if name in _USER_FIELDS and isinstance(change, dict)
        for value in (change.get("old"), change.get("new"))
        if isinstance(value, int)
    }
    names = {}
    if user_ids:
        names = {
            user.pk: user.get_display_name() for user in User.objects.filter(pk__in=user_ids, tenant=customer.tenant)
        }

    def shown(name, value):
        if name in _USER_FIELDS and isinstance(value, int):
            return names.get(value, f"#{value}")
        return _display_value(name, value)

    return [
        TimelineEntry(
            when=entry.created_at,
            kind="audit",
            title=audit_labels.label(entry.action),
            actor=entry.actor_name,
            changes=tuple(
                (_field_label(name), shown(name, change.get("old")), shown(name, change.get("new")))
                for name, change in (entry.changes or {}).items()
                if isinstance(change, dict)
            ),
        )
        for entry in entries
    ]


def timeline_context(request, customer: Customer) -> dict:
    """The merged timeline of every registered source, newest first."""
    return {"timeline": customer_timeline(request, customer, limit=30)}


def share_context(request, customer: Customer) -> dict:
    """The sharing panel of the overview (leads and admins only)."""
    if not request.user.has_perm(ASSIGN):
        return {}
    shared = list(selectors.customer_shared_users(customer).order_by("display_name", "username"))
    taken = {user.pk for user in shared} | {customer.assigned_manager_id}
    form = ShareForm(tenant=request.tenant, initial={"action": "share"})
    form.fields["user"].queryset = form.fields["user"].queryset.exclude(pk__in=[pk for pk in taken if pk])
    return {"shared_users": shared, "share_form": form}


def _website_url(website: str) -> str | None:
    if not website:
        return None
    url = website if "://" in website else f"https://{website}"
    return url if urlparse(url).scheme in ("http", "https") else None


@login_required
@permission_required(VIEW, raise_exception=True)
def customer_detail(request, pk: int):
    """The customer 360° page: header, quick actions, tabs (?tab=...; htmx swaps only the tab area)."""
    customer = _visible_or_404(request.user, pk)
    record_access(request, customer, CUSTOMER_VIEWED, tab=request.GET.get("tab", "")[:50])
    user = request.user
    tabs = visible(customer_tabs, user)
    panel_tabs = [tab for tab in tabs if not tab.url_name]
    slug = request.GET.get("tab") or panel_tabs[0].slug
    active = next((tab for tab in panel_tabs if tab.slug == slug), panel_tabs[0])
    tab_links = [
        {
            "slug": tab.slug,
            "label": tab.label,
            "url": reverse(tab.url_name, args=[customer.pk]) if tab.url_name else f"?tab={tab.slug}",
            "is_link": bool(tab.url_name),
            "active": tab is active,
            "count": tab.count(customer) if tab.count else None,
        }
        for tab in tabs
    ]
    context = {
        "customer": customer,
        "tabs": tab_links,
        "tab": active,
        "tag_form": TagForm(),
        "website_url": _website_url(customer.website),
        "influence_labels": dict(InfluenceLevel.choices),
        "see_money": can_see_amounts(user),
    }
    if active.context is not None:
        context.update(active.context(request, customer))
    if wants_partial(request) and request.htmx.target == "customer-tabs":
        return render(request, "customers/_customer_tabs.html", context)
    return render(request, "customers/customer_detail.html", context)


@login_required
@permission_required(DELETE, raise_exception=True)
@require_POST
@step_up_required
def customer_delete(request, pk: int):
    customer = _visible_or_404(request.user, pk)
    try:
        services.customer_delete(actor=request.user, customer=customer, request=request)
    except PermissionDenied as exc:
        messages.error(request, error_text(exc))
        return redirect("customers:customer_detail", pk=customer.pk)
    messages.success(request, _("Customer %(name)s deleted.") % {"name": customer.customer_name})
    return redirect("customers:customer_list")
