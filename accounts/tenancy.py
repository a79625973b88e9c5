"""Tenant scoping: the active tenant lives in a context variable, and tenant-owned managers obey it.

Every query on a tenant-owned model is filtered by the active tenant. Without one the query raises
`TenantScopeError` instead of quietly returning every tenant's rows. The only way around it is
`unscoped("reason")`, so one grep finds every bypass.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from accounts.models import Tenant


class TenantScopeError(RuntimeError):
    """A tenant-owned model was queried or saved without an active tenant scope."""


@dataclass(frozen=True)
class _Scope:
    tenant: Tenant | None = None
    unscoped_reason: str | None = None


_scope: contextvars.ContextVar[_Scope] = contextvars.ContextVar("crm_tenant_scope", default=_Scope())  # noqa: B039 (frozen)


def current_tenant() -> Tenant | None:
    """The active tenant, or None outside any scope (or inside `unscoped`)."""
    return _scope.get().tenant


@contextmanager
def tenant_scope(tenant: Tenant | None) -> Iterator[Tenant | None]:
    """Run the block with `tenant` active; the previous scope is restored afterwards, whatever happens."""
    token = _scope.set(_Scope(tenant=tenant))
    try:
        yield tenant
    finally:
        _scope.reset(token)


@contextmanager
def unscoped(reason: str) -> Iterator[None]:
    """Lift tenant filtering for admin-wide work. The reason is mandatory: it documents the bypass."""
    if not reason or not reason.strip():
        raise ValueError("unscoped() needs a reason")
    token = _scope.set(_Scope(tenant=None, unscoped_reason=reason))
    try:
        yield
    finally:
        _scope.reset(token)


def activate_tenant(tenant: Tenant | None) -> None:
    """Switch the active tenant for the rest of the current request.

    Used by authentication classes that only learn the user inside the view (JWT); the request's
    middleware restores the previous scope when the request ends, so this never leaks.
    """
    _scope.set(_Scope(tenant=tenant))


class TenantQuerySet(models.QuerySet):
    """Queryset of a tenant-owned model; filtering by the active tenant happens in the manager."""


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Default manager of tenant-owned models: refuses to run without an active tenant."""

    def get_queryset(self) -> TenantQuerySet:
        scope = _scope.get()
        queryset = super().get_queryset()
        if scope.unscoped_reason is not None:
            return queryset
        if scope.tenant is None:
            raise TenantScopeError(
                f"{self.model.__name__} queried without an active tenant; use tenant_scope() or unscoped('why')"
            )
        return queryset.filter(tenant_id=scope.tenant.pk)

    def none(self) -> TenantQuerySet:
        # An empty queryset reads no rows, so it is safe to build even outside a scope.
        return super().get_queryset().none()

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.fill_tenant_from_scope()
        return super().bulk_create(objs, *args, **kwargs)


class TenantOwnedModel(models.Model):
    """Abstract base of every row that belongs to one tenant (the PRD's `tenant_id`)."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.PROTECT, editable=False, related_name="+")

    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.fill_tenant_from_scope()
        super().save(*args, **kwargs)

    def fill_tenant_from_scope(self) -> None:
        """New rows take their tenant from the scope, never from request data."""
        scope = _scope.get()
        if self.tenant_id is None:
            if scope.tenant is None:
                if scope.unscoped_reason is None:
                    raise TenantScopeError(f"{type(self).__name__} saved without an active tenant")
                return
            self.tenant = scope.tenant
        elif scope.tenant is not None and self.tenant_id != scope.tenant.pk:
            raise TenantScopeError(f"{type(self).__name__} of another tenant saved inside tenant {scope.tenant.pk}")
