"""factory_boy factories for customers, contacts and tags, created through the services (codes, derived keys
and audit exactly as in production). The functions below (`make_customer`, ...) are the short forms most tests use.

    CustomerFactory(actor=lead, customer_name="Acme", assigned_manager=csm)
    ContactFactory(actor=lead, customer=customer, is_primary=True)
    TagFactory(actor=lead, customer=customer, tag_name="vip")
"""

from __future__ import annotations

from typing import Any

import factory

from accounts.tenancy import tenant_scope
from customers import services
from customers.models import Customer, CustomerContact, CustomerTag


class _ServiceFactory(factory.Factory):
    """`actor` (a user) is required: the row is written by the service in the actor's tenant."""

    class Meta:
        abstract = True

    actor = None


class CustomerFactory(_ServiceFactory):
    class Meta:
        model = Customer

    customer_name = factory.Sequence(lambda n: f"Customer {n + 1:04d} Ltd")
    contacts: Any = ()
    tags: Any = ()

    @classmethod
    def _create(cls, model_class, *, actor, contacts=(), tags=(), status=None, **fields):
        if actor is None:
            raise ValueError("CustomerFactory needs actor=<user>")
        with tenant_scope(actor.tenant):
            customer = services.customer_create(actor=actor, data=fields, contacts=list(contacts), tags=list(tags))
            if status is not None and status != customer.status:
                # Test data only: in the product the status follows the contracts (services.customer_status_change).
                Customer.objects.filter(pk=customer.pk).update(status=status)
                customer.status = status
        return customer


class ContactFactory(_ServiceFactory):
    class Meta:
        model = CustomerContact

    customer = None
    contact_name = factory.Sequence(lambda n: f"Contact {n + 1}")

    @classmethod
    def _create(cls, model_class, *, actor, customer, **fields):
        with tenant_scope(customer.tenant):
            return services.contact_create(actor=actor or customer.created_by, customer=customer, data=fields)


class TagFactory(_ServiceFactory):
    class Meta:
        model = CustomerTag

    customer = None
    tag_name = factory.Sequence(lambda n: f"tag{n + 1}")

    @classmethod
    def _create(cls, model_class, *, actor, customer, **fields):
        with tenant_scope(customer.tenant):
            return services.tag_add(actor=actor or customer.created_by, customer=customer, data=fields)


def make_customer(
    actor,
    *,
    contacts: list[dict[str, Any]] | tuple = (),
    tags: list[str] | tuple = (),
    **fields: Any,
) -> Customer:
    """A customer created by `actor` in their tenant via services.customer_create.

    A CSM actor becomes the manager (the service's rule); pass `assigned_manager=` with a lead or admin actor.
    `status=` sets a test status directly (the product only changes it along the contract lifecycle).
    """
    return CustomerFactory(actor=actor, contacts=contacts, tags=tags, **fields)


def make_contact(actor, customer: Customer, **fields: Any) -> CustomerContact:
    return ContactFactory(actor=actor, customer=customer, **fields)


def make_tag(actor, customer: Customer, tag_name: str, **fields: Any) -> CustomerTag:
    return TagFactory(actor=actor, customer=customer, tag_name=tag_name, **fields)


def share(actor, customer: Customer, user) -> None:
    with tenant_scope(customer.tenant):
        services.customer_share(actor=actor, customer=customer, user=user)


def reload(customer: Customer) -> Customer:
    """The stored row (soft-deleted ones included)."""
    with tenant_scope(customer.tenant):
        return Customer.objects.get(pk=customer.pk)
