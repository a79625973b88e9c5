"""Test data of the segments app, made through the services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from accounts.tenancy import tenant_scope
from contracts import services as contract_services
from customers.models import Customer
from customers.tests.factories import make_customer
from segments import services

RULE = {"op": "and", "conditions": [{"field": "health_score", "operator": "lt", "value": 60}]}


def make_segment(actor, *, name="At-risk accounts", rules=None, **kwargs):
    with tenant_scope(actor.tenant):
        return services.segment_create(actor=actor, name=name, rules=rules or RULE, **kwargs)


def customer_with(actor, *, health=None, **fields) -> Customer:
    """A customer with a given (denormalised, read-only) health score."""
    customer = make_customer(actor, **fields)
    if health is not None:
        with tenant_scope(actor.tenant):
            Customer.objects.filter(pk=customer.pk).update(health_score=Decimal(str(health)))
            customer.health_score = Decimal(str(health))
    return customer


def signed_contract(actor, customer, *, amount, start, end=None, signed=None):
    with tenant_scope(actor.tenant):
        contract = contract_services.contract_create(
            actor=actor,
            customer=customer,
            data={
                "contract_name": "Service",
                "contract_amount": Decimal(str(amount)),
                "start_date": start,
                "end_date": end or date(start.year + 1, start.month, 1),
            },
        )
        return contract_services.contract_sign(actor=actor, contract=contract, signed_date=signed or start)
