"""Test data for customers, made through the services (codes, derived keys and audit exactly as in production)."""

from __future__ import annotations

import itertools
from typing import Any

from accounts.tenancy import tenant_scope
from customers import services
from customers.models import Customer, CustomerContact, CustomerTag

_numbers = itertools.count(1)


def make_customer(
    actor,
    *,
    contacts: list[dict[str, Any]] | tuple = (),
    tags: list[str] | tuple = (),
    **fields: Any,
) -> Customer:
    """A customer created by `actor` in their tenant via services.customer_create.

    A CSM actor becomes the manager (the service's rule); pass `assigned_manager=` with a lead or admin actor.
    """
    fields.setdefault("customer_name", f"Customer {next(_numbers):04d} Ltd")
    status = fields.pop("status", None)
    with tenant_scope(actor.tenant):
        customer = services.customer_create(actor=actor, data=fields, contacts=list(contacts), tags=list(tags))
        if status is not None and status != customer.status:
            # Test data only: in the product the status follows the contracts (services.customer_status_change).
            Customer.objects.filter(pk=customer.pk).update(status=status)
            customer.status = status
        return customer


def make_contact(actor, customer: Customer, **fields: Any) -> CustomerContact:
    fields.setdefault("contact_name", f"Contact {next(_numbers)}")
    with tenant_scope(customer.tenant):
        return services.contact_create(actor=actor, customer=customer, data=fields)


def make_tag(actor, customer: Customer, tag_name: str, **fields: Any) -> CustomerTag:
    with tenant_scope(customer.tenant):
        return services.tag_add(actor=actor, customer=customer, data={"tag_name": tag_name, **fields})


def share(actor, customer: Customer, user) -> None:
    with tenant_scope(customer.tenant):
        services.customer_share(actor=actor, customer=customer, user=user)


def reload(customer: Customer) -> Customer:
    """The stored row (soft-deleted ones included)."""
    with tenant_scope(customer.tenant):
        return Customer.objects.get(pk=customer.pk)
