"""Real Chromium, 390 px wide: a staff member invites a contact from the customer page, the contact sets a
password from the e-mailed link, signs in, opens a request, rates a closed ticket and downloads a bill; every
portal page fits the phone and runs under the Content-Security-Policy without console errors."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.tenancy import tenant_scope
from conftest import login_in_browser
from contracts.tests.factories import InvoiceFactory
from customers.tests.factories import make_contact, make_customer
from portal.tests.factories import PASSWORD, make_ticket
from service_records.models import ServiceRecord
from service_records.tests.factories import make_contract

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


def _errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def login_to_portal(page, email: str, password: str = PASSWORD) -> None:
    """The portal's own sign-in (staff users use conftest.login_in_browser)."""
    page.goto(page.base_url + "/portal/login/")
    page.fill("#id_email", email)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def test_invite_set_password_sign_in_request_rate_and_download_a_bill(page, phone_page, owner, tmp_path):
    with tenant_scope(owner.tenant):
        customer = make_customer(owner, customer_name="深圳蓝海科技有限公司", assigned_manager=owner)
        make_contact(owner, customer, contact_name="王芳", email="wang.fang@example.com")
        contract = make_contract(owner, customer)
        invoice = InvoiceFactory(contract=contract, tenant=owner.tenant, invoice_number="INV-BROWSER-1")
    closed = make_ticket(owner, customer, status="closed", title="打印机无法连接")

    # Staff: invite the contact from the customer page's portal tab.
    login_in_browser(page, "owner")
    page.goto(f"{page.base_url}/customers/{customer.pk}/?tab=portal")
    page.fill("#portal-invite-email", "wang.fang@example.com")
    page.click("[data-testid=customer-portal] form[action$='/invite/'] button[type=submit]")
    page.wait_for_load_state()
    assert len(mail.outbox) == 1
    link = next(word for word in mail.outbox[0].body.split() if "/portal/set-password/" in word)
    path = link[link.index("/portal/") :]

    # The contact, on a phone: set the password, sign in.
    errors = _errors(phone_page)
    phone_page.goto(phone_page.base_url + path)
    phone_page.fill("#id_password", PASSWORD)
    phone_page.fill("#id_password2", PASSWORD)
    phone_page.click("main button[type=submit]")
    phone_page.wait_for_url("**/portal/login/")
    login_to_portal(phone_page, "wang.fang@example.com")
    phone_page.wait_for_url(phone_page.base_url + "/portal/")
    assert phone_page.evaluate(NO_OVERFLOW) <= 0

    # Open a request.
    phone_page.goto(phone_page.base_url + "/portal/requests/new/incident/")
    phone_page.fill("#id_title", "邮件无法发送")
    phone_page.fill("#id_system", "Exchange")
    phone_page.select_option("#id_impact", "P2")
    phone_page.fill("#id_description", "所有人都收不到邮件")
    phone_page.click("main button[type=submit]")
    phone_page.wait_for_url("**/portal/tickets/*/")
    with tenant_scope(owner.tenant):
        record = ServiceRecord.objects.get(title="邮件无法发送")
    assert record.source_system == "portal" and record.customer_id == customer.pk

    # Rate the closed ticket.
    phone_page.goto(f"{phone_page.base_url}/portal/tickets/{closed.pk}/")
    for name, score in (("overall", 5), ("response_speed", 4), ("professionalism", 5), ("resolution_quality", 4)):
        phone_page.check(f"input[name=satisfaction_{name}][value='{score}']")
    phone_page.click("#rate button[type=submit]")
    phone_page.wait_for_load_state()
    with tenant_scope(owner.tenant):
        closed.refresh_from_db()
    assert closed.satisfaction_overall == 5 and closed.rated_at is not None

    # Download the bill.
    phone_page.goto(phone_page.base_url + "/portal/bills/")
    with phone_page.expect_download() as download:
        phone_page.click(f"a[href='/portal/bills/{invoice.pk}/pdf/']")
    saved = tmp_path / "bill.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    assert errors == []


def test_every_portal_page_fits_a_phone_without_console_errors(phone_page, owner):
    from portal.tests.factories import make_account, make_article, make_checklist, make_goal

    account = make_account(owner)
    make_ticket(owner, account.customer, status="open", title="很长的标题" * 10)
    make_goal(owner, account.customer)
    checklist = make_checklist(owner, make_article(owner))
    errors = _errors(phone_page)
    login_to_portal(phone_page, account.email)
    paths = [
        "/portal/", "/portal/tickets/", "/portal/requests/new/", "/portal/requests/new/access/", "/portal/bills/",
        "/portal/reports/", "/portal/feedback/", "/portal/help/", f"/portal/help/diagnose/{checklist.pk}/",
        "/portal/usage/", "/portal/plan/", "/portal/security/",
    ]  # fmt: skip
    for path in paths:
        phone_page.goto(phone_page.base_url + path)
        phone_page.wait_for_load_state()
        assert phone_page.evaluate(NO_OVERFLOW) <= 0, path
    phone_page.goto(phone_page.base_url + "/portal/usage/")
    phone_page.wait_for_selector("canvas[data-chart='portal-usage'][data-chart-ready='1']")
    assert errors == []
