"""The health API: calculate, trend, value analysis and the usage-event feed; isolation and the model fallback."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.integration import integration_key_create
from accounts.tenancy import tenant_scope
from contracts.choices import ContractStatus
from contracts.tests.factories import ContractFactory, InvoiceFactory
from crm_project.api import codes
from crm_project.testing import assert_api_not_found, assert_envelope, query_budget
from customers.choices import CustomerStatus
from customers.tests.factories import make_customer
from health import churn
from health.models import CustomerHealthScore, UsageEvent
from health.tests.factories import score_row
from service_records.tests.factories import signed_post

pytestmark = pytest.mark.django_db
NOW = "2026-06-15 10:00:00+08:00"


@pytest.fixture
def customer(owner):
    c = make_customer(owner, customer_name="Harbor Grid Ltd", status=CustomerStatus.FORMAL)
    contract = ContractFactory(
        customer=c, status=ContractStatus.ACTIVE, start_date=date(2026, 1, 1), end_date=date(2026, 12, 31)
    )
    for month in (1, 2, 3, 4):
        due = date(2026, month, 25)
        InvoiceFactory(
            contract=contract,
            amount=Decimal("10000"),
            issue_date=due - timedelta(days=20),
            due_date=due,
            paid_date=due,
            status="paid",
        )
    return c


def url(customer, tail):
    return f"/api/v1/customers/{customer.pk}/{tail}"


@time_machine.travel(NOW, tick=False)
def test_calculate_answers_the_prd_shape_and_stores_todays_row(api_as, owner, customer):
    data = assert_envelope(api_as(owner).post(url(customer, "health-score/calculate")), 200, code=200)
    assert data["customer_id"] == customer.pk and data["score_date"] == "2026-06-15"
    assert set(data["factors"]) == {"positive_factors", "negative_factors"}
    assert isinstance(data["recommendations"], list)
    assert data["churn_source"] == "rules"  # no model trained: the transparent fallback, and it says so
    assert 0 <= data["overall_score"] <= 100 and data["risk_level"] in (1, 2, 3, 4)
    assert_envelope(api_as(owner).post(url(customer, "health-score/calculate")), 200)
    with tenant_scope(customer.tenant):
        assert CustomerHealthScore.objects.filter(customer=customer).count() == 1


@time_machine.travel(NOW, tick=False)
def test_calculate_without_data_answers_unknown(api_as, owner):
    empty = make_customer(owner, customer_name="Quiet Ltd")
    data = assert_envelope(api_as(owner).post(url(empty, "health-score/calculate")), 200)
    assert data["status"] == "unknown" and data["overall_score"] is None and data["data_completeness"] == 0


@time_machine.travel(NOW, tick=False)
def test_model_that_raises_falls_back_to_rules(api_as, owner, customer, monkeypatch):
    class Broken:
        version = 3

    monkeypatch.setattr(churn, "active_model", lambda: Broken())
    monkeypatch.setattr(churn, "_load", lambda model: (_ for _ in ()).throw(ValueError("corrupt artifact")))
    data = assert_envelope(api_as(owner).post(url(customer, "health-score/calculate")), 200)
    assert data["churn_source"] == "rules" and data["churn_probability"] is not None


@time_machine.travel(NOW, tick=False)
def test_trend_periods_and_analysis(api_as, owner, customer):
    for i, value in enumerate([70, 72, 75, 78, 80, 83]):
        score_row(customer, date(2026, 1, 10) + timedelta(days=30 * i), value, 2 if value < 80 else 1)
    data = assert_envelope(api_as(owner).get(url(customer, "health-score/trend") + "?period=6m"), 200)
    assert data["period"] == "6m"
    assert [p["overall_score"] for p in data["trend_data"]] == [70.0, 72.0, 75.0, 78.0, 80.0, 83.0]
    assert data["trend_analysis"]["direction"] == "上升"  # the PRD value: the API speaks the default zh-hans
    assert data["trend_analysis"]["change_rate"] == round((83 - 70) / 70, 3)
    assert data["trend_analysis"]["stability"] == "稳定"
    one = assert_envelope(api_as(owner).get(url(customer, "health-score/trend") + "?period=1m"), 200)
    assert [p["overall_score"] for p in one["trend_data"]] == [83.0]
    bad = assert_envelope(api_as(owner).get(url(customer, "health-score/trend") + "?period=7y"), 400, code=40000)
    assert bad["field"] == "period"


@time_machine.travel(NOW, tick=False)
def test_value_analysis_shape(api_as, owner, customer):
    with tenant_scope(customer.tenant):
        from health.services import ltv_refresh

        ltv_refresh()
    with query_budget(25):
        data = assert_envelope(api_as(owner).get(url(customer, "analysis/value")), 200)
    assert set(data) == {"customer_id", "value_analysis", "financial_metrics", "growth_potential"}
    assert data["value_analysis"]["ltv"] == 120000.0
    assert set(data["value_analysis"]) == {"ltv", "arpu", "profit_margin", "revenue_trend", "value_rank"}
    assert data["financial_metrics"]["payment_punctuality"] == 1.0
    assert set(data["growth_potential"]) == {"upsell_probability", "expansion_opportunities", "estimated_growth"}


@pytest.mark.parametrize("tail", ["health-score/trend", "analysis/value"])
def test_other_tenant_and_invisible_customers_are_404(api_as, owner, outsider, make_user, customer, tail):
    assert_api_not_found(api_as(outsider), url(customer, tail), code=codes.CUSTOMER_NOT_FOUND)
    stranger = make_user("csm")  # same tenant, not assigned, not shared
    assert_api_not_found(api_as(stranger), url(customer, tail), code=codes.CUSTOMER_NOT_FOUND)


def test_calculate_is_isolated(api_as, outsider, customer):
    assert_api_not_found(
        api_as(outsider), url(customer, "health-score/calculate"), methods=("post",), code=codes.CUSTOMER_NOT_FOUND
    )


def test_viewer_may_read_but_not_calculate(api_as, make_user, customer):
    viewer = make_user("viewer")
    assert_envelope(api_as(viewer).post(url(customer, "health-score/calculate")), 403)


def _event(customer, n, **fields):
    return {"event_id": f"e-{n}", "customer_code": customer.customer_code, "user_id": "alice",
            "event_type": "login", "occurred_at": "2026-06-10 09:00:00", **fields}  # fmt: skip


def test_usage_events_are_idempotent_by_event_id(client, tenant, customer):
    key, secret = integration_key_create(tenant=tenant)
    batch = {"events": [_event(customer, i) for i in range(3)]}
    first = assert_envelope(signed_post(client, key, secret, batch, path="/api/v1/integrations/usage-events"), 200)
    assert first == {"received": 3, "stored": 3, "duplicates": 0}
    again = assert_envelope(signed_post(client, key, secret, batch, path="/api/v1/integrations/usage-events"), 200)
    assert again == {"received": 3, "stored": 0, "duplicates": 3}
    with tenant_scope(tenant):
        assert UsageEvent.objects.count() == 3


def test_usage_events_of_another_tenants_customer_are_refused(client, other_tenant, customer):
    key, secret = integration_key_create(tenant=other_tenant)
    response = signed_post(
        client, key, secret, {"events": [_event(customer, 1)]}, path="/api/v1/integrations/usage-events"
    )
    assert assert_envelope(response, 400, code=40000)["field"] == "events[0].customer_code"


def test_usage_events_validate_fields_and_batch_size(client, tenant, customer):
    key, secret = integration_key_create(tenant=tenant)
    path = "/api/v1/integrations/usage-events"
    assert_envelope(
        signed_post(client, key, secret, {"events": [_event(customer, 1, event_type="dance")]}, path=path), 400
    )
    assert_envelope(
        signed_post(client, key, secret, {"events": [_event(customer, 1, occurred_at="yesterday")]}, path=path), 400
    )
    too_many = {"events": [_event(customer, i) for i in range(5001)]}
    assert signed_post(client, key, secret, too_many, path=path).status_code in (400, 413)


def test_unsigned_usage_events_are_refused(client, customer):
    response = client.post("/api/v1/integrations/usage-events", {"events": []}, content_type="application/json")
    assert response.status_code in (401, 403)
