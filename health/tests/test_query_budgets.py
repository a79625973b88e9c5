"""Query-count budgets of every health API endpoint and page: fixed whatever the tenant's size (no N+1)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.integration import integration_key_create
from contracts.choices import ContractStatus
from contracts.tests.factories import ContractFactory, InvoiceFactory
from crm_project.testing import assert_envelope
from customers.choices import CustomerStatus
from customers.tests.factories import make_customer
from health.tests.factories import score_row, usage
from service_records.tests.factories import signed_post

pytestmark = pytest.mark.django_db
NOW = "2026-06-15 10:00:00+08:00"


def _customer(owner, n):
    c = make_customer(owner, customer_name=f"Budget {n} Ltd", status=CustomerStatus.FORMAL)
    contract = ContractFactory(
        customer=c, status=ContractStatus.ACTIVE, start_date=date(2026, 1, 1), end_date=date(2026, 12, 31)
    )
    for month in (1, 2, 3):
        due = date(2026, month, 25)
        InvoiceFactory(
            contract=contract,
            amount=Decimal("10000"),
            issue_date=due - timedelta(days=20),
            due_date=due,
            paid_date=due + timedelta(days=n % 3),
            status="paid",
        )
    for week in range(8):
        score_row(c, date(2026, 6, 14) - timedelta(days=7 * week), 70 - week, 2)
    return c


@pytest.fixture
def customers(owner):
    """Several customers with contracts, invoices, usage and weekly rows: budgets must not grow with them."""
    made = [_customer(owner, n) for n in range(4)]
    for c in made:
        for day in range(3):
            usage(c, _days_back(day))
    return made


def _days_back(day_back):
    from health.tests.factories import aware

    return aware(date(2026, 6, 10) - timedelta(days=day_back))


@time_machine.travel(NOW, tick=False)
def test_api_budgets(api_as, owner, customers, django_assert_max_num_queries):
    client = api_as(owner)
    target = customers[0]
    base = f"/api/v1/customers/{target.pk}"
    client.get(f"{base}/health-score/trend")  # warm the session / permission caches like a real client
    with django_assert_max_num_queries(33):  # + the decrypted contract-amount totals (amounts are encrypted)
        assert_envelope(client.post(f"{base}/health-score/calculate"), 200)
    with django_assert_max_num_queries(10):
        assert_envelope(client.get(f"{base}/health-score/trend?period=12m"), 200)
    with django_assert_max_num_queries(22):
        assert_envelope(client.get(f"{base}/analysis/value"), 200)


@time_machine.travel(NOW, tick=False)
def test_usage_feed_budget_is_flat_in_the_batch_size(client, tenant, customers, django_assert_max_num_queries):
    key, secret = integration_key_create(tenant=tenant)
    events = [
        {
            "event_id": f"b-{i}",
            "customer_code": customers[i % 4].customer_code,
            "event_type": "login",
            "occurred_at": "2026-06-10 09:00:00",
        }
        for i in range(200)
    ]
    with django_assert_max_num_queries(15):
        result = assert_envelope(
            signed_post(client, key, secret, {"events": events}, path="/api/v1/integrations/usage-events"), 200
        )
    assert result["stored"] == 200


@time_machine.travel(NOW, tick=False)
def test_page_budgets(staff_client_as, owner, customers, django_assert_max_num_queries):
    client = staff_client_as(owner)
    target = customers[0]
    client.get("/health/models/")
    with django_assert_max_num_queries(35):
        assert client.get(f"/customers/{target.pk}/?tab=health").status_code == 200
    with django_assert_max_num_queries(45):
        assert client.get("/").status_code == 200
    with django_assert_max_num_queries(15):
        assert client.get("/health/models/").status_code == 200
    with django_assert_max_num_queries(15):
        assert client.get("/health/settings/").status_code == 200
    # The backtest's history loader runs a fixed number of grouped queries per monthly snapshot (12).
    with django_assert_max_num_queries(12 * 12 + 15):
        assert client.get("/health/backtest/").status_code == 200
    with django_assert_max_num_queries(35):
        assert client.post(f"/health/customers/{target.pk}/calculate").status_code == 302
