"""Test data of the analytics app."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from accounts.tenancy import tenant_scope
from contracts.choices import ContractStatus
from contracts.models import Contract
from health.models import CustomerHealthScore

_codes = iter(range(1, 10_000))


def contract_row(customer, *, amount, start, end, status=ContractStatus.ACTIVE, predecessor=None, terminated_at=None):
    """A contract row as the KPI and consistency code read it (written directly: the fixture is about figures)."""
    with tenant_scope(customer.tenant):
        return Contract.objects.create(
            customer=customer,
            contract_code=f"T-{next(_codes):05d}",
            contract_name="Service",
            contract_amount=Decimal(str(amount)),
            start_date=start,
            end_date=end,
            status=status,
            predecessor=predecessor,
            terminated_at=terminated_at,
            created_by=customer.created_by,
        )


def health_row(customer, *, day: date, overall, risk_level, churn):
    with tenant_scope(customer.tenant):
        return CustomerHealthScore.objects.create(
            customer=customer,
            score_date=day,
            overall_score=Decimal(str(overall)),
            risk_level=risk_level,
            churn_probability=Decimal(str(churn)),
        )
