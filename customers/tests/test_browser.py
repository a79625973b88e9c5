"""Real Chromium against the live server: a CSM filters the list, creates a customer with contacts; phone width."""

import pytest

from accounts.tenancy import tenant_scope
from conftest import login_in_browser
from customers.models import Customer
from customers.tests.factories import make_customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


def test_csm_filters_the_list_and_creates_a_customer_with_two_contacts(page, teammate):
    make_customer(teammate, customer_name="Aurora Networks", contacts=[{"contact_name": "Gao Yan"}])
    make_customer(teammate, customer_name="Borealis Storage")
    login_in_browser(page, "teammate")

    page.goto(page.base_url + "/customers/")
    rows = page.locator("[data-testid=customer-row]")
    assert rows.count() == 2
    # Live filtering (htmx): type, press Enter, only the matching row stays; the URL keeps the filter.
    page.fill("#id_q", "gao yan")
    page.press("#id_q", "Enter")
    page.wait_for_function("document.querySelectorAll('[data-testid=customer-row]').length === 1")
    assert "Aurora Networks" in rows.first.inner_text()
    assert "q=gao" in page.url

    page.click("[data-testid=new-customer]")
    page.wait_for_url("**/customers/new/")
    page.fill("#id_customer_name", "Cascade Cloud")
    page.fill("#id_industry", "Software")
    page.fill("#id_contacts-0-contact_name", "Han Mei")
    page.fill("#id_contacts-0-mobile", "13900139000")
    page.fill("#id_contacts-0-email", "han@cascade.example")
    page.fill("#id_contacts-1-contact_name", "Qian Lei")
    page.fill("#id_contacts-1-position", "CTO")
    page.check("#id_contacts-1-is_decision_maker")
    page.click("[data-testid=save-customer]")
    page.wait_for_url("**/customers/*/")

    assert page.locator("h1").inner_text().strip() == "Cascade Cloud"
    page.click("[data-tab=contacts]")
    page.wait_for_selector("[data-testid=contacts-table]")
    contact_rows = page.locator("[data-testid=contacts-table] [data-testid=contact-row]")
    assert contact_rows.count() == 2
    assert "Han Mei" in contact_rows.nth(0).inner_text() and "Qian Lei" in contact_rows.nth(1).inner_text()
    with tenant_scope(teammate.tenant):
        customer = Customer.objects.get(customer_name="Cascade Cloud")
        assert customer.assigned_manager_id == teammate.pk
        assert [c.is_primary for c in customer.contacts.order_by("id")] == [True, False]


def test_tags_are_added_and_removed_in_place(page, teammate):
    customer = make_customer(teammate, customer_name="Delta Retail")
    login_in_browser(page, "teammate")
    page.goto(f"{page.base_url}/customers/{customer.pk}/?tab=tags")
    page.fill("#id_tag_name", "renewal-q3")
    page.click("[data-testid=tag-add-form] button[type=submit]")
    page.wait_for_selector("[data-testid=tag-chip]:has-text('renewal-q3')")
    page.click("[data-testid=tag-chip] .chip-remove")
    page.click("#confirm-dialog [data-confirm-ok]")
    page.wait_for_selector("[data-testid=tag-chip]", state="detached")


def test_list_form_and_detail_fit_a_phone_screen(phone_page, teammate):
    customer = make_customer(
        teammate,
        customer_name="深圳前海智慧物流科技股份有限公司",
        industry="Logistics",
        website="https://www.a-very-long-domain-name-for-testing.example.com/about",
        contacts=[
            {
                "contact_name": "欧阳明",
                "email": "ouyang.ming.long.address@a-very-long-domain-name-for-testing.example.com",
                "is_primary": True,
            }
        ],
        tags=["key-account", "renewal-2026", "upsell"],
    )
    login_in_browser(phone_page, "teammate")
    for path in [
        "/customers/",
        "/customers/new/",
        f"/customers/{customer.pk}/edit/",
        f"/customers/{customer.pk}/",
        f"/customers/{customer.pk}/?tab=contacts",
        f"/customers/{customer.pk}/?tab=tags",
        f"/customers/{customer.pk}/?tab=timeline",
        f"/customers/{customer.pk}/duplicates/",
    ]:
        phone_page.goto(phone_page.base_url + path)
        overflow = phone_page.evaluate(NO_OVERFLOW)
        assert overflow <= 0, (path, overflow)
