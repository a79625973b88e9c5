"""Real Chromium: the Service tab renders its charts (opened directly and through the htmx tab strip) without
console errors, and fits a phone; the quality page draws its charts too."""

import pytest

from conftest import login_in_browser
from customers.tests.factories import make_customer
from service_records.tests.factories import ingest, make_contract, ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def customer(owner, teammate):
    customer = make_customer(owner, customer_name="深圳蓝海科技有限公司", assigned_manager=teammate)
    make_contract(owner, customer, sla={"P1": (60, 240)})
    ingest(owner.tenant, [
        ticket(customer, external_id="B1", satisfaction={"overall": 4, "response_speed": 3}),
        ticket(customer, external_id="B2", resolved_at="2026-03-02 16:00:00"),
    ])  # fmt: skip
    return customer


def _errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_service_tab_draws_its_charts_without_console_errors(page, owner, customer):
    errors = _errors(page)
    login_in_browser(page, "owner")
    page.goto(f"{page.base_url}/customers/{customer.pk}/?tab=service")
    page.wait_for_selector("canvas[data-chart='sr-chart-satisfaction'][data-chart-ready='1']")
    page.wait_for_selector("canvas[data-chart='sr-chart-nps'][data-chart-ready='1']")
    assert page.locator("[data-testid=service-record-row]").count() == 2

    # Through the tab strip (htmx swap): leave for another tab, come back, charts render again.
    page.click("[data-tab=overview]")
    page.wait_for_selector("[data-testid=customer-service]", state="detached")
    page.click("[data-tab=service]")
    page.wait_for_selector("canvas[data-chart='sr-chart-satisfaction'][data-chart-ready='1']")
    assert errors == []


def test_service_tab_and_quality_page_fit_a_phone(phone_page, owner, customer):
    errors = _errors(phone_page)
    login_in_browser(phone_page, "owner")
    phone_page.goto(f"{phone_page.base_url}/customers/{customer.pk}/?tab=service")
    phone_page.wait_for_selector("canvas[data-chart='sr-chart-nps'][data-chart-ready='1']")
    assert phone_page.evaluate(NO_OVERFLOW) <= 0
    phone_page.goto(f"{phone_page.base_url}/service/")
    phone_page.wait_for_selector("canvas[data-chart='q-chart-distribution'][data-chart-ready='1']")
    assert phone_page.evaluate(NO_OVERFLOW) <= 0
    assert errors == []
