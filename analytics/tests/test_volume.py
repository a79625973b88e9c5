"""The volume generator (`manage.py generate_volume`, issue 16) at a small size: targets reached, the customers'
figures consistent with their sources, reruns top up instead of duplicating, other tenants untouched."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from accounts.registry import volume_steps
from accounts.tenancy import tenant_scope
from analytics import consistency
from communications.models import Communication
from contracts.choices import ContractStatus
from contracts.models import Contract
from customers.choices import CustomerStatus
from customers.models import Customer
from health.models import CustomerHealthScore
from service_records.models import ServiceDailyRollup, ServiceRecord

SMALL = {"customers": 50, "tickets": 500, "communications": 1000, "health_rows": 2000}


def _generate(tenant, **targets):
    out = StringIO()
    call_command("generate_volume", tenant=tenant.name, seed=3, stdout=out, **{**SMALL, **targets})
    return out.getvalue()


def _counts(tenant):
    with tenant_scope(tenant):
        return {
            "customers": Customer.objects.alive().count(),
            "contracts": Contract.objects.count(),
            "tickets": ServiceRecord.objects.count(),
            "communications": Communication.objects.count(),
            "health_rows": CustomerHealthScore.objects.count(),
        }


def test_every_domain_app_registers_a_volume_step_in_order():
    assert [step.key for step in volume_steps] == ["contracts", "service_records", "communications", "health_history"]


@pytest.mark.django_db(transaction=False)
def test_small_volume_reaches_the_targets_consistently_and_reruns_top_up(tenant, other_tenant):
    call_command("generate_demo", tenant=other_tenant.name, customers=5, seed=9, stdout=StringIO())
    other_before = _counts(other_tenant)

    output = _generate(tenant)

    counts = _counts(tenant)
    assert {k: counts[k] for k in SMALL} == SMALL
    assert "step health_history: 2000 rows" in output and "rows/s" in output
    with tenant_scope(tenant):
        # Each customer's story: formal ones have one running contract, lost ones none, potential ones no contract.
        active = dict(Contract.objects.active().values_list("customer_id").annotate(n=Count("id")).order_by())
        for customer in Customer.objects.alive():
            expected = 1 if customer.status == CustomerStatus.FORMAL else 0
            assert active.get(customer.pk, 0) == expected, customer.status
            if customer.status == CustomerStatus.POTENTIAL:
                assert not Contract.objects.filter(customer=customer).exists()
        assert not ServiceRecord.objects.filter(customer__status=CustomerStatus.POTENTIAL).exists()
        # Health history: 40 daily rows per customer, the latest is the customer's figure.
        assert set(
            CustomerHealthScore.objects.values_list("customer_id").annotate(n=Count("id")).values_list("n", flat=True)
        ) == {40}
        # The denormalised figures agree with their sources: the consistency checker finds no drift.
        assert {figure: len(rows) for figure, rows in consistency.drift().items()} == dict.fromkeys(
            consistency.FIGURES, 0
        )
        # The rollups count every ticket (the rebuild ran after the load).
        assert ServiceDailyRollup.objects.filter(span="m").aggregate(n=Sum("tickets"))["n"] == 500
        assert ServiceRecord.objects.exclude(external_id__startswith="VOL-").count() == 0
        assert Contract.objects.filter(status=ContractStatus.EXPIRED, customer__status=CustomerStatus.FORMAL).exists()

    _generate(tenant)  # a rerun adds nothing
    assert _counts(tenant) == counts

    _generate(tenant, tickets=650, health_rows=2500)  # a larger target tops up
    topped = _counts(tenant)
    assert topped["tickets"] == 650 and topped["health_rows"] == 2500
    assert topped["communications"] == 1000 and topped["contracts"] == counts["contracts"]
    with tenant_scope(tenant):
        assert ServiceRecord.objects.values("external_id").distinct().count() == 650
        assert {figure: len(rows) for figure, rows in consistency.drift().items()} == dict.fromkeys(
            consistency.FIGURES, 0
        )

    assert _counts(other_tenant) == other_before  # another tenant is untouched


@pytest.mark.django_db(transaction=True)
def test_committed_run_in_small_chunks_reaches_the_targets(tenant):
    """Outside a test transaction, on MariaDB the steps hand their INSERTs to a writer thread (one transaction per
    chunk on its own connection): the result is the same as the serial path's."""
    call_command(
        "generate_volume",
        tenant=tenant.name,
        seed=5,
        chunk=7,
        stdout=StringIO(),
        customers=30,
        tickets=200,
        communications=300,
        health_rows=600,
    )
    counts = _counts(tenant)
    assert (counts["tickets"], counts["communications"], counts["health_rows"]) == (200, 300, 600)
    with tenant_scope(tenant):
        assert {figure: len(rows) for figure, rows in consistency.drift().items()} == dict.fromkeys(
            consistency.FIGURES, 0
        )
