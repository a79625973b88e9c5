"""Real Chromium against the live server: a lead creates a contract through the wizard and signs it; phone width."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tenancy import tenant_scope
from conftest import login_in_browser
from contracts import services
from contracts.choices import ContractStatus
from contracts.models import Contract
from customers.choices import CustomerStatus
from customers.models import Customer
from customers.tests.factories import make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def lead(make_user):
    return make_user(role="cs_lead", username="lead")


def test_lead_creates_a_contract_with_the_wizard_and_signs_it(page, lead, teammate):
    customer = make_customer(lead, customer_name="Aurora Networks", assigned_manager=teammate)
    today = timezone.localdate()
    login_in_browser(page, "lead")

    page.goto(f"{page.base_url}/contracts/new/?customer={customer.pk}")
    assert page.locator("#id_terms-customer").input_value() == str(customer.pk)
    page.fill("#id_terms-contract_name", "Aurora managed operations")
    page.fill("#id_terms-contract_amount", "86000")
    page.fill("#id_terms-start_date", today.isoformat())
    page.fill("#id_terms-end_date", (today + timedelta(days=364)).isoformat())
    page.click("[data-testid=wizard-next]")
    page.wait_for_selector("[data-testid=contract-wizard][data-step='2']")
    assert "Aurora Networks" in page.locator("[data-testid=wizard-preview]").inner_text()
    page.fill("#id_sla-P1_first_response_minutes", "15")
    page.fill("#id_sla-P1_resolution_minutes", "240")
    page.click("[data-testid=wizard-create]")
    page.wait_for_url("**/contracts/*/")

    status = page.locator("[data-testid=contract-header] [data-testid=contract-status]")
    assert status.get_attribute("data-status") == str(ContractStatus.DRAFT)
    sla_row = page.locator("[data-testid=sla-row][data-priority=P1] td")
    assert [sla_row.nth(0).inner_text().strip(), sla_row.nth(1).inner_text().strip()] == ["15", "240"]

    page.click("[data-testid=sign-contract]")
    page.click("#confirm-dialog [data-confirm-ok]")
    page.wait_for_selector(f"[data-testid=contract-header] [data-status='{ContractStatus.ACTIVE}']")
    assert status.get_attribute("data-status") == str(ContractStatus.ACTIVE)
    assert page.locator("[data-testid=sign-contract]").count() == 0
    with tenant_scope(lead.tenant):
        contract = Contract.objects.get(customer=customer)
        assert contract.status == ContractStatus.ACTIVE and contract.sla_bindings.get().resolution_minutes == 240
        assert Customer.objects.get(pk=customer.pk).status == CustomerStatus.FORMAL


def test_list_detail_and_pipeline_fit_a_phone_screen(phone_page, lead, teammate):
    customer = make_customer(
        lead, customer_name="深圳前海智慧物流科技股份有限公司", assigned_manager=teammate, industry="Logistics"
    )
    today = timezone.localdate()
    with tenant_scope(lead.tenant):
        contract = services.contract_create(
            actor=lead,
            customer=customer,
            data={
                "contract_name": "智慧物流平台七乘二十四小时运维服务及应急响应框架协议",
                "contract_amount": Decimal("1234567.89"),
                "start_date": today - timedelta(days=300),
                "end_date": today + timedelta(days=45),
                "payment_terms": "Quarterly in advance, net 30 days after invoice",
            },
        )
        contract = services.contract_sign(actor=lead, contract=contract)
        services.milestone_save(
            actor=lead, contract=contract, data={"title": "季度业务回顾会议", "due_date": today - timedelta(days=2)}
        )
        services.sla_binding_set(
            actor=lead,
            contract=contract,
            priority="P1",
            data={"first_response_minutes": 15, "resolution_minutes": 240},
        )
        services.change_request_create(
            actor=lead, contract=contract, changes={"payment_terms": "Monthly"}, reason="客户要求按月付款"
        )
    login_in_browser(phone_page, "lead")
    for path in [
        "/contracts/",
        f"/contracts/{contract.pk}/",
        "/contracts/renewals/?window=60",
        "/contracts/approvals/",
        f"/contracts/new/?customer={customer.pk}",
        f"/contracts/{contract.pk}/changes/new/",
    ]:
        phone_page.goto(phone_page.base_url + path)
        overflow = phone_page.evaluate(NO_OVERFLOW)
        assert overflow <= 0, (path, overflow)
