"""customers.ltv follows contract revenue (contract receivers + the nightly run, through the customers service);
ARPU in the value analysis is computed over the same contracts."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from accounts.tenancy import tenant_scope
from contracts import services as contract_services
from contracts.choices import ContractStatus
from contracts.tests.factories import ContractFactory
from crm_project.testing import assert_envelope
from customers.choices import CustomerStatus
from customers.models import Customer
from customers.tests.factories import make_customer
from health import services

pytestmark = pytest.mark.django_db
NOW = "2026-06-15 10:00:00+08:00"


def ltv(customer):
    with tenant_scope(customer.tenant):
        return Customer.objects.get(pk=customer.pk).ltv


@pytest.fixture
def customer(owner):
    return make_customer(owner, customer_name="Ledger Ltd", status=CustomerStatus.FORMAL)


def test_signing_adds_the_contract_amount_and_drafts_do_not_count(owner, customer):
    with tenant_scope(owner.tenant):
        contract = contract_services.contract_create(
            actor=owner,
            customer=customer,
            data={
                "contract_name": "Ops 2026",
                "contract_amount": Decimal("240000"),
                "start_date": date(2026, 1, 1),
                "end_date": date(2026, 12, 31),
            },
        )
    assert ltv(customer) == Decimal("0.00")  # a draft is no revenue
    with tenant_scope(owner.tenant):
        contract_services.contract_sign(actor=owner, contract=contract)
    assert ltv(customer) == Decimal("240000.00")
    ContractFactory(
        customer=customer,
        status=ContractStatus.EXPIRED,
        contract_amount=Decimal("60000"),
        start_date=date(2025, 1, 1),
        end_date=date(2025, 12, 31),
    )
    assert ltv(customer) == Decimal("300000.00")
    with tenant_scope(customer.tenant):
        contract.delete()
    assert ltv(customer) == Decimal("60000.00")


def test_nightly_run_repairs_a_stale_ltv_for_the_whole_tenant(owner, customer):
    ContractFactory(customer=customer, status=ContractStatus.ACTIVE, contract_amount=Decimal("90000"))
    with tenant_scope(customer.tenant):
        Customer.objects.filter(pk=customer.pk).update(ltv=Decimal("1"))  # e.g. rows written in bulk
        assert services.ltv_refresh() == 1
    assert ltv(customer) == Decimal("90000.00")


@time_machine.travel(NOW, tick=False)
def test_value_analysis_ltv_and_arpu_come_from_the_same_contracts(api_as, owner, customer):
    # 36 months of contracts worth 360,000 -> ARPU 10,000 a month (the PRD's example figures).
    for year, amount in ((2024, "100000"), (2025, "120000"), (2026, "140000")):
        ContractFactory(
            customer=customer,
            status=ContractStatus.ACTIVE if year == 2026 else ContractStatus.EXPIRED,
            contract_amount=Decimal(amount),
            start_date=date(year, 1, 1),
            end_date=date(year, 12, 31),
        )
    data = assert_envelope(api_as(owner).get(f"/api/v1/customers/{customer.pk}/analysis/value"), 200)
    assert data["value_analysis"]["ltv"] == 360000.0 == float(ltv(customer))
    assert data["value_analysis"]["arpu"] == pytest.approx(10000, rel=0.001)
