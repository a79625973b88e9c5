"""Query budgets of the list pages and endpoints: the count does not grow with the rows."""

from datetime import date
from decimal import Decimal

import pytest

from accounts.tenancy import tenant_scope
from analytics.models import LevelSuggestion
from crm_project.testing import assert_envelope, query_budget
from customers.tests.factories import make_contact, make_customer

pytestmark = pytest.mark.django_db


def _world(owner, teammate, n):
    for i in range(n):
        customer = make_customer(owner, customer_name=f"Budget {i} Ltd", assigned_manager=teammate)
        make_contact(owner, customer, contact_name=f"P{i}", email=f"p{i}@example.com", is_primary=True)
        with tenant_scope(owner.tenant):
            LevelSuggestion.objects.create(
                customer=customer,
                current_level=1,
                suggested_level=2,
                value_score=Decimal("40"),
                potential_score=Decimal("10"),
                risk_score=Decimal("20"),
                grade_score=Decimal("38.5"),
                reasons={"ltv": 1000, "arpu": 10, "max_ltv": 5000, "max_arpu": 50, "risk_level": 2},
                computed_on=date(2026, 3, 1),
            )


@pytest.mark.parametrize("n", [1, 6])
def test_list_pages_and_endpoints_stay_within_budget(owner, teammate, staff_client_as, api_as, n):
    _world(owner, teammate, n)
    client = staff_client_as(owner)
    with query_budget(14):
        page = client.get("/analytics/grading/")
    assert page.content.decode().count('data-testid="suggestion-row"') == n
    with query_budget(14):
        page = client.get("/analytics/data-quality/")
    assert page.content.decode().count('data-testid="quality-row"') == n
    with query_budget(10):
        data = assert_envelope(api_as(owner).get("/api/v1/level-suggestions?size=50"), 200)
    assert data["total"] == n


def test_pages_render_in_the_default_chinese(owner, teammate):
    from django.test import Client

    _world(owner, teammate, 2)
    with tenant_scope(owner.tenant):
        customer = LevelSuggestion.objects.first().customer
    client = Client()
    client.force_login(owner)
    for url, text in (
        ("/analytics/grading/", "建议等级"),
        ("/analytics/data-quality/", "基础信息完整度"),
        ("/analytics/kpis/", "客户留存率"),
        (f"/customers/{customer.pk}/?tab=analytics", "决策链"),
    ):
        response = client.get(url)
        assert response.status_code == 200 and text in response.content.decode(), url
