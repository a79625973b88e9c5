"""Staff pages: the Health tab, dashboard cards, churn models and backtest; isolation and query budgets."""

from datetime import date, timedelta

import pytest
import time_machine

from crm_project.testing import assert_page_not_found, query_budget
from customers.choices import CustomerStatus
from customers.tests.factories import make_customer
from health.tests.factories import score_row

pytestmark = pytest.mark.django_db
NOW = "2026-06-15 10:00:00+08:00"


@pytest.fixture
def customer(owner):
    c = make_customer(owner, customer_name="Tab Ltd", status=CustomerStatus.FORMAL)
    for i in range(6):
        score_row(
            c,
            date(2026, 6, 15) - timedelta(days=7 * (5 - i)),
            90 - 8 * i,
            1 if 90 - 8 * i >= 80 else 2 if 90 - 8 * i >= 60 else 3,
            satisfaction_score=70,
            factors={
                "positive_factors": ["Renewed 2 times"],
                "negative_factors": ["Payment delays: 2 of 6 invoices late (12 months)"],
            },
            recommendations=["Agree a payment plan with the customer's finance contact"],
            churn_probability="0.4200",
        )
    return c


@time_machine.travel(NOW, tick=False)
def test_health_tab_shows_score_components_factors_and_churn_source(staff_client_as, owner, customer):
    client = staff_client_as(owner)
    with query_budget(40):
        response = client.get(f"/customers/{customer.pk}/?tab=health")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="health-overall"' in body and "50.0" in body
    assert "Payment delays: 2 of 6 invoices late (12 months)" in body
    assert "Agree a payment plan" in body
    assert "Rule-based estimate" in body
    assert 'data-chart="hc-trend"' in body and "<script>" not in body


@time_machine.travel(NOW, tick=False)
def test_health_tab_of_a_customer_without_data_says_unknown(staff_client_as, owner):
    empty = make_customer(owner, customer_name="Nothing Ltd")
    body = staff_client_as(owner).get(f"/customers/{empty.pk}/?tab=health").content.decode()
    assert 'data-testid="health-unknown"' in body


@time_machine.travel(NOW, tick=False)
def test_dashboard_renders_the_health_cards(staff_client_as, owner, customer):
    client = staff_client_as(owner)
    with query_budget(45):
        body = client.get("/").content.decode()
    for key in ("distribution", "at-risk", "drops", "renewals", "trend"):
        assert f'data-testid="card-health-{key}"' in body
    assert "Tab Ltd" in body  # at risk (level 3) and the biggest drop of the week


def test_other_tenant_cannot_recalculate(staff_client_as, outsider, customer):
    assert_page_not_found(staff_client_as(outsider), f"/health/customers/{customer.pk}/calculate", methods=("post",))


def test_models_and_backtest_pages_for_admins_only(staff_client_as, owner, make_user, customer):
    admin = staff_client_as(owner)
    assert admin.get("/health/models/").status_code == 200
    assert admin.get("/health/backtest/?satisfaction=40&activity=20&financial=20&contract=20").status_code == 200
    csm = staff_client_as(make_user("csm"))
    assert csm.get("/health/models/").status_code == 403
    assert csm.get("/health/backtest/").status_code == 403


def test_demo_steps_are_registered_in_order():
    from accounts.registry import demo_steps

    keys = [step.key for step in demo_steps]
    assert (
        keys.index("contracts")
        < keys.index("service_records")
        < keys.index("health_usage")
        < keys.index("health_history")
    )
