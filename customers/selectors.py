"""Reads shared by the staff UI, the API, search, export and counts: above all, who sees which customer."""

from __future__ import annotations

import hashlib
import json

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.models import User
from accounts.roles import CS_LEAD, FINANCE, TENANT_ADMIN, VIEWER, can_see_amounts
from customers.cache import cache_entry, cached_entries
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


# --- Cached list pages and totals ---------------------------------------------------------------------------------
def _list_key(kind: str, user: User, params: dict) -> str:
    audience = "all" if sees_all_customers(user) else f"user{user.pk}"
    audience += ":money" if can_see_amounts(user) else ":masked"  # rows carry ltv (masked without the permission)
    digest = hashlib.sha1(json.dumps(sorted(params.items()), default=str).encode()).hexdigest()
    return f"crm:customers:{kind}:{user.tenant_id}:{audience}:{digest}"


class CachedList:
    """The cached page and total of one list request (PRD 6.4.1: hot customer data cached in Redis).

    Both are read with the tenant's customers version in one round trip (customers.cache.cached_entries); an entry
    written under an older version is a miss, so any customer change is visible on the next request. The total is
    keyed by the filters only, so every page of a filter shares it.
    """

    def __init__(self, *, user: User, params: dict | None, filters: dict, count_kind: str = "count"):
        self.page_key = _list_key("page", user, params) if params is not None else None
        self.count_key = _list_key(count_kind, user, filters)
        keys = [self.count_key] if self.page_key is None else [self.page_key, self.count_key]
        self.version, found = cached_entries(user.tenant_id, keys)
        self.page = found.get(self.page_key) if self.page_key is not None else None
        self.total = found.get(self.count_key)

    def count(self, queryset: QuerySet) -> int:
        if self.total is None:
            self.total = queryset.count()
            cache_entry(self.count_key, self.version, self.total)
        return self.total

    def store_page(self, page) -> None:
        self.page = page
        cache_entry(self.page_key, self.version, page)


def customer_count(queryset: QuerySet[Customer], *, user: User, filters: dict, kind: str = "count") -> int:
    """`queryset.count()`, cached until the tenant's customers change (or a minute passes); see customers.cache.
    `kind` separates totals of lists that filter differently with the same parameters (staff list, API)."""
    return CachedList(user=user, params=None, filters=filters, count_kind=kind).count(queryset)


def page_in_order(queryset: QuerySet, ids: list[int]) -> list:
    """The rows of `queryset` with these ids, in the order of `ids` (the second half of a deferred join)."""
    if not ids:
        return []
    rows = {row.pk: row for row in queryset.filter(pk__in=ids).order_by()}
    return [rows[pk] for pk in ids if pk in rows]
