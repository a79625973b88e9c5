"""Reads shared by the staff UI, the API, search, export and counts: above all, who sees which customer."""

from __future__ import annotations

import hashlib
import json

from django.core.cache import cache
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.models import User
from accounts.roles import CS_LEAD, FINANCE, TENANT_ADMIN, VIEWER, can_see_amounts
from customers.cache import COUNT_TTL, customers_version
from customers.models import Customer, CustomerContact, CustomerTag, CustomerUserObjectPermission

# Roles that see every customer of their tenant (viewers and finance read-only, see docs/decisions.md).
SEE_ALL_ROLES = (TENANT_ADMIN, CS_LEAD, FINANCE, VIEWER)


def sees_all_customers(user: User) -> bool:
    """Admins, leads, finance and viewers (and superusers) see every customer of their tenant."""
    return bool(user.is_superuser or user.role in SEE_ALL_ROLES)


def customers_visible_to(user: User, *, include_deleted: bool = False) -> QuerySet[Customer]:
    """The one visibility rule: live customers of the active tenant that `user` may see.

    Admins, leads, finance and viewers see them all; a CSM sees those assigned to them plus those
    shared with them (guardian object permission `view_customer`). `include_deleted` (the admin's
    "deleted" filter) keeps soft-deleted rows under the same rule.
    """
    queryset = Customer.objects.all() if include_deleted else Customer.objects.alive()
    if sees_all_customers(user):
        return queryset
    shared = CustomerUserObjectPermission.objects.filter(
        content_object=OuterRef("pk"), user=user, permission__codename="view_customer"
    )
    return queryset.filter(Q(assigned_manager=user) | Exists(shared))


def customer_list_queryset(user: User) -> QuerySet[Customer]:
    """Visible customers with what a list row shows, in a constant number of queries."""
    return customers_visible_to(user).select_related("assigned_manager")


def customer_detail_queryset(user: User) -> QuerySet[Customer]:
    """Visible customers with contacts and tags prefetched for the 360° page and the detail endpoint."""
    return (
        customers_visible_to(user)
        .select_related("assigned_manager")
        .prefetch_related(
            Prefetch("contacts", queryset=CustomerContact.objects.order_by("-is_primary", "id")),
            Prefetch("tags", queryset=CustomerTag.objects.order_by("tag_name")),
        )
    )


def customer_get_visible(user: User, customer_id) -> Customer | None:
    """A visible customer by id, or None (missing, deleted, other tenant, or not visible: all the same)."""
    try:
        pk = int(customer_id)
    except (TypeError, ValueError):
        return None
    return customer_detail_queryset(user).filter(pk=pk).first()


def customer_shared_users(customer: Customer) -> QuerySet[User]:
    """Users a customer was explicitly shared with."""
    return User.objects.filter(
        customeruserobjectpermission__content_object=customer,
        customeruserobjectpermission__permission__codename="view_customer",
    ).distinct()


def assignable_managers(tenant) -> QuerySet[User]:
    """Active users of the tenant who can own customers."""
    return User.objects.filter(tenant=tenant, is_active=True).order_by("display_name", "username")


# --- Cached list totals -------------------------------------------------------------------------------------------
def _list_cache_key(kind: str, user: User, params: dict) -> str:
    audience = "all" if sees_all_customers(user) else f"user{user.pk}"
    audience += ":money" if can_see_amounts(user) else ":masked"  # rows carry ltv (masked without the permission)
    digest = hashlib.sha1(json.dumps(sorted(params.items()), default=str).encode()).hexdigest()
    return f"crm:customers:{kind}:{user.tenant_id}:{customers_version(user.tenant_id)}:{audience}:{digest}"


def customer_count(queryset: QuerySet[Customer], *, user: User, filters: dict) -> int:
    """`queryset.count()`, cached until the tenant's customers change (or a minute passes); see customers.cache."""
    key = _list_cache_key("count", user, filters)
    total = cache.get(key)
    if total is None:
        total = queryset.count()
        cache.set(key, total, COUNT_TTL)
    return total


def customer_list_page_cached(*, user: User, params: dict, compute):
    """A whole list page (PRD 6.4.1: hot customer data cached in Redis), under the same tenant version as the
    totals, so any customer change is visible on the next request; `compute()` builds it on a miss."""
    key = _list_cache_key("page", user, params)
    page = cache.get(key)
    if page is None:
        page = compute()
        cache.set(key, page, COUNT_TTL)
    return page
