"""Customers and contracts together (issue 7): contracts change customers only through customers.services,
the merge API moves contracts, lapsing is set-based. Lives here because customers' tests may not import contracts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from contracts import services as contract_services
from contracts.models import Contract
from crm_project.testing import assert_envelope
from customers.choices import CustomerStatus
from customers.tests.factories import make_customer, reload


def signed_contract(actor, customer, *, start=date(2026, 1, 1), end=date(2026, 12, 31)) -> Contract:
    with tenant_scope(actor.tenant):
        contract = contract_services.contract_create(
            actor=actor,
            customer=customer,
            data={"contract_name": "Support", "contract_amount": Decimal("1000"), "start_date": start, "end_date": end},
        )
        return contract_services.contract_sign(actor=actor, contract=contract, signed_date=start)


def status_entries(tenant, customer) -> list[dict]:
    with tenant_scope(tenant):
        return list(
            AuditLog.objects.filter(action="crm.customer.status_changed", object_id=str(customer.pk))
            .order_by("id")
            .values_list("changes", flat=True)
        )


def test_signing_makes_the_customer_formal_through_the_customers_service(owner):
    customer = make_customer(owner, customer_name="Signing Co")
    signed_contract(owner, customer)
    stored = reload(customer)
    assert stored.status == CustomerStatus.FORMAL and stored.next_renewal_date == date(2026, 12, 31)
    (entry,) = status_entries(owner.tenant, customer)
    assert entry["status"] == {"old": 1, "new": 2} and entry["reason"]["new"]


def test_lapse_is_set_based_and_audited_per_customer(owner, settings):
    settings.CONTRACT_RENEWAL_GRACE_DAYS = 30

    def lapse_queries(count: int) -> int:
        customers = [make_customer(owner, customer_name=f"Lapse {count} {i}") for i in range(count)]
        for customer in customers:
            signed_contract(owner, customer)
        with tenant_scope(owner.tenant):
            Contract.objects.filter(customer__in=customers).update(status=3)  # expired
            with CaptureQueriesContext(connection) as queries:
                assert contract_services.customers_lapse(today=date(2027, 3, 1)) == count
        assert all(reload(c).status == CustomerStatus.LOST for c in customers)
        assert all(status_entries(owner.tenant, c)[-1]["status"] == {"old": 2, "new": 3} for c in customers)
        return len(queries)

    assert lapse_queries(2) == lapse_queries(6)


def test_lapse_waits_for_the_grace_period_and_a_recent_termination(owner, settings):
    settings.CONTRACT_RENEWAL_GRACE_DAYS = 30
    ended = make_customer(owner, customer_name="Recently Ended Co")
    signed_contract(owner, ended)
    with tenant_scope(owner.tenant):
        Contract.objects.filter(customer=ended).update(status=3)
        assert contract_services.customers_lapse(today=date(2027, 1, 15)) == 0  # within the grace period
        assert contract_services.customers_lapse(today=date(2027, 2, 5)) == 1
    terminated = make_customer(owner, customer_name="Terminated Co")
    contract = signed_contract(owner, terminated, end=date(2030, 12, 31))
    with tenant_scope(owner.tenant):
        contract_services.contract_terminate(actor=owner, contract=contract, reason="budget")
        # The end date is years away, but the termination is what counts: today, within the grace period.
        assert contract_services.customers_lapse(today=timezone.localdate()) == 0
    assert reload(terminated).status == CustomerStatus.FORMAL


def test_merge_api_moves_the_duplicates_contracts_to_the_survivor(api_as, owner, make_user):
    lead = make_user(role="cs_lead")
    survivor = make_customer(owner, customer_name="Survivor Ltd")
    duplicate = make_customer(owner, customer_name="Duplicate Ltd")
    contract = signed_contract(owner, duplicate, end=date(2027, 6, 30))
    response = api_as(lead).post(
        f"/api/v1/customers/{survivor.pk}/merge", {"duplicate_id": duplicate.pk}, format="json"
    )
    assert_envelope(response, status=200)
    with tenant_scope(owner.tenant):
        assert Contract.objects.get(pk=contract.pk).customer_id == survivor.pk
        merged = AuditLog.objects.get(action="crm.customer.merged", object_id=str(survivor.pk))
    assert merged.changes["contracts_moved"]["new"] == 1
    stored = reload(survivor)
    # The moved active contract makes the survivor formal and gives it the renewal date.
    assert stored.status == CustomerStatus.FORMAL and stored.next_renewal_date == date(2027, 6, 30)
    assert reload(duplicate).next_renewal_date is None
    listed = assert_envelope(api_as(lead).get(f"/api/v1/contracts?customer={survivor.pk}"), 200)
    assert [item["contract_id"] for item in listed["items"]] == [contract.pk]
