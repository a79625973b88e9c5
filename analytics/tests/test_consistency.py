"""The consistency job: drift in each denormalised figure is found, repaired through the services and counted."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import JobRun
from accounts.tenancy import tenant_scope, unscoped
from analytics.tasks import consistency_check
from analytics.tests.factories import contract_row, health_row
from communications.tests.factories import make_communication
from customers.models import Customer
from customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def stored(customer):
    with tenant_scope(customer.tenant):
        return Customer.objects.values("health_score", "ltv", "last_contact_date", "next_renewal_date").get(
            pk=customer.pk
        )


def test_drift_is_repaired_and_a_second_run_finds_nothing(owner):
    today = timezone.localdate()
    customer = make_customer(owner, customer_name="Drift Ltd")
    clean = make_customer(owner, customer_name="Clean Ltd")  # no sources at all: nothing to repair
    contract_row(customer, amount=1000, start=today - timedelta(days=30), end=today + timedelta(days=200))
    contract_row(customer, amount=500, start=today - timedelta(days=400), end=today - timedelta(days=31), status=3)
    health_row(customer, day=today - timedelta(days=1), overall=40, risk_level=3, churn="0.4")
    health_row(customer, day=today, overall=72, risk_level=2, churn="0.2")
    call = make_communication(owner, customer, communication_date=timezone.now() - timedelta(days=3))
    # The row wrote through the services; now break every figure as a lost update would.
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=customer.pk).update(
            health_score=Decimal("10"),
            ltv=Decimal("1"),
            last_contact_date=timezone.now(),  # later than any communication
            next_renewal_date=date(2030, 1, 1),
        )
    first = consistency_check(owner.tenant_id)
    assert {k: first[k] for k in first if k.endswith("_found")} == {
        "health_score_found": 1,
        "ltv_found": 1,
        "last_contact_date_found": 1,
        "next_renewal_date_found": 1,
    }
    assert (first["found"], first["repaired"]) == (4, 4)
    figures = stored(customer)
    assert figures["health_score"] == Decimal("72.00") and figures["ltv"] == Decimal("1500.00")
    assert figures["last_contact_date"] == call.communication_date
    assert figures["next_renewal_date"] == today + timedelta(days=200)
    assert stored(clean)["last_contact_date"] is None
    second = consistency_check(owner.tenant_id)
    assert (second["found"], second["repaired"]) == (0, 0)
    with unscoped("test reads job runs"):
        runs = list(JobRun.objects.filter(job_name="consistency_check").order_by("started_at"))
    assert [r.counts["found"] for r in runs] == [4, 0] and all(r.status == "succeeded" for r in runs)


def test_a_missed_touch_moves_the_last_contact_forward(owner, staff_client_as):
    customer = make_customer(owner, customer_name="Touch Ltd")
    call = make_communication(owner, customer, communication_date=timezone.now() - timedelta(days=1))
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=customer.pk).update(last_contact_date=None)
    counts = consistency_check(owner.tenant_id)
    assert (
        counts["last_contact_date_repaired"] == 1 and stored(customer)["last_contact_date"] == call.communication_date
    )
    # Admins see the runs on the data quality page.
    html = staff_client_as(owner).get("/analytics/data-quality/").content.decode()
    assert 'data-testid="consistency-runs"' in html
