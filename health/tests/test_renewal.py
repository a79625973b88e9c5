"""Renewal probability of contracts: the churn model's estimate through contracts' provider hook, the rule as
fallback, and the source named in the API and on the pages."""

from datetime import date

import pytest
import time_machine

from accounts.tenancy import tenant_scope
from contracts import services as contract_services
from contracts.choices import ContractStatus
from contracts.extensions import renewal_probability_provider
from contracts.tests.factories import ContractFactory
from crm_project.api import codes
from crm_project.testing import assert_api_not_found, assert_envelope
from customers.choices import CustomerStatus
from customers.tests.factories import make_customer
from health.tests.factories import score_row

pytestmark = pytest.mark.django_db
NOW = "2026-06-15 10:00:00+08:00"


def _contract(owner, name):
    customer = make_customer(owner, customer_name=name, status=CustomerStatus.FORMAL)
    contract = ContractFactory(
        customer=customer, status=ContractStatus.ACTIVE, start_date=date(2025, 7, 1), end_date=date(2026, 7, 31)
    )
    return customer, contract


@pytest.fixture
def modelled(owner):
    customer, contract = _contract(owner, "Model Ltd")
    score_row(
        customer,
        date(2026, 6, 14),
        55,
        3,
        churn_probability="0.3000",
        churn_source="model",
        churn_model_version=4,
        churn_drivers=[{"feature": "tickets_90d", "value": 14, "direction": "raises", "impact": 0.2}],
    )
    return contract


@pytest.fixture
def ruled(owner):
    customer, contract = _contract(owner, "Rule Ltd")
    score_row(customer, date(2026, 6, 14), 85, 1, churn_probability="0.0500", churn_source="rules")
    return contract


def api(contract):
    return f"/api/v1/contracts/{contract.pk}/renewal-probability"


def test_health_fills_the_contracts_hook():
    from health.renewal import renewal_estimates

    assert renewal_probability_provider.provider is renewal_estimates


@time_machine.travel(NOW, tick=False)
def test_api_uses_the_model_estimate(api_as, owner, modelled, django_assert_max_num_queries):
    client = api_as(owner)
    with django_assert_max_num_queries(12):
        data = assert_envelope(client.get(api(modelled)), 200)
    assert data["source"] == "model" and data["model_version"] == 4
    assert data["renewal_probability"] == 0.7  # 1 - 0.30
    assert data["reasons"][0] in (
        "churn model v4: 30% churn risk on 2026-06-14",
        "流失模型 v4：2026-06-14 流失风险 30%",
    )
    assert data["reasons"][1] in ("tickets_90d: 14, raises risk", "tickets_90d：14，提高风险")


@time_machine.travel(NOW, tick=False)
def test_api_falls_back_to_the_rule_without_a_model_estimate(api_as, owner, ruled):
    data = assert_envelope(api_as(owner).get(api(ruled)), 200)
    with tenant_scope(owner.tenant):
        rule, reasons = contract_services.renewal_probability_rule(ruled)
    assert data["source"] == "rules" and data["model_version"] is None
    assert data["renewal_probability"] == rule and data["reasons"] == [str(r) for r in reasons]


@time_machine.travel(NOW, tick=False)
def test_a_stale_model_row_is_not_used(api_as, owner):
    customer, contract = _contract(owner, "Stale Ltd")
    score_row(
        customer, date(2026, 4, 1), 40, 3, churn_probability="0.9000", churn_source="model", churn_model_version=1
    )
    assert assert_envelope(api_as(owner).get(api(contract)), 200)["source"] == "rules"


@time_machine.travel(NOW, tick=False)
def test_a_failing_provider_falls_back_to_the_rule(api_as, owner, modelled):
    previous = renewal_probability_provider.provider
    renewal_probability_provider.register(lambda contracts: 1 / 0)
    try:
        data = assert_envelope(api_as(owner).get(api(modelled)), 200)
    finally:
        renewal_probability_provider.register(previous)
    assert data["source"] == "rules"


@time_machine.travel(NOW, tick=False)
def test_pages_say_which_source_was_used(staff_client_as, owner, modelled, ruled):
    client = staff_client_as(owner)
    body = client.get(f"/contracts/{modelled.pk}/").content.decode()
    assert 'data-source="model"' in body and "70%" in body
    body = client.get(f"/contracts/{ruled.pk}/").content.decode()
    assert 'data-source="rules"' in body
    pipeline = client.get("/contracts/renewals/?window=60").content.decode()
    assert pipeline.count('data-testid="probability-source"') == 2
    model_row = pipeline.split(f'data-contract="{modelled.contract_code}"')[1].split("</tr>")[0]
    rule_row = pipeline.split(f'data-contract="{ruled.contract_code}"')[1].split("</tr>")[0]
    assert 'data-source="model"' in model_row and ">70%<" in model_row
    assert 'data-source="rules"' in rule_row


def test_other_tenants_contract_is_404(api_as, outsider, modelled, make_user):
    assert_api_not_found(api_as(outsider), api(modelled), code=codes.NOT_FOUND)
    assert_envelope(api_as(make_user("csm", username="stranger")).get(api(modelled)), 404)
