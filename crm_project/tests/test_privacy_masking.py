"""One rule masks contact details on every surface (pages, API, exports, documents, notifications, logs); showing
them in full to a user with the permission is audited."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission

from accounts.models import AuditLog, Notification
from accounts.roles import can_see_contact_details, mask_contact_detail
from accounts.services import notify
from accounts.tenancy import tenant_scope
from customers.masking import UNMASKED_ACTION
from customers.tests.factories import make_contact, make_customer

pytestmark = pytest.mark.django_db

MOBILE, PHONE, EMAIL, WECHAT = "13800138000", "010-62345678", "zhang@abc-tech.com", "zhangwei88"


@pytest.fixture
def customer(owner):
    customer = make_customer(owner, customer_name="Masked Co")
    make_contact(
        owner, customer, contact_name="Zhang", mobile=MOBILE, phone=PHONE, email=EMAIL, wechat=WECHAT, is_primary=True
    )
    return customer


def _unmask_entries(tenant):
    with tenant_scope(tenant):
        return list(AuditLog.objects.filter(action=UNMASKED_ACTION))


def test_the_masked_shapes():
    assert mask_contact_detail("mobile", MOBILE) == "138****8000"
    assert mask_contact_detail("email", EMAIL) == "z***@abc-tech.com"
    assert mask_contact_detail("phone", PHONE) == "010****5678"
    assert mask_contact_detail("wechat", WECHAT) == "z***"


def test_roles_and_the_permission(owner, teammate, make_user):
    assert can_see_contact_details(owner) and can_see_contact_details(teammate)
    assert not can_see_contact_details(make_user("viewer", username="v"))
    assert not can_see_contact_details(make_user("finance", username="f"))
    assert not can_see_contact_details(None)


@pytest.mark.parametrize("tab", ["contacts", "overview"])
def test_pages_mask_for_viewers_and_audit_unmasking_for_permitted_users(
    customer, owner, make_user, staff_client_as, tab
):
    viewer = make_user("viewer", username="viewer1")
    page = staff_client_as(viewer).get(f"/customers/{customer.pk}/?tab={tab}").content.decode()
    assert "138****8000" in page and "z***@abc-tech.com" in page
    assert MOBILE not in page and EMAIL not in page
    assert _unmask_entries(owner.tenant) == []

    lead = make_user("cs_lead", username="lead1")
    page = staff_client_as(lead).get(f"/customers/{customer.pk}/?tab={tab}").content.decode()
    assert f'href="tel:{MOBILE}"' in page and EMAIL in page
    entries = _unmask_entries(owner.tenant)
    assert len(entries) == 1 and entries[0].actor_id == lead.pk and entries[0].object_id == str(customer.pk)


def test_api_masks_for_finance_and_audits_unmasking(customer, owner, make_user, api_as):
    finance = make_user("finance", username="fin1")
    body = api_as(finance).get(f"/api/v1/customers/{customer.pk}").json()["data"]
    contact = body["contacts"][0]
    assert (contact["mobile"], contact["email"], contact["phone"], contact["wechat"]) == (
        "138****8000",
        "z***@abc-tech.com",
        "010****5678",
        "z***",
    )
    listed = api_as(finance).get(f"/api/v1/customers/{customer.pk}/contacts").json()["data"][0]
    assert listed["mobile"] == "138****8000"
    assert _unmask_entries(owner.tenant) == []

    body = api_as(owner).get(f"/api/v1/customers/{customer.pk}/contacts/{contact['contact_id']}").json()["data"]
    assert (body["mobile"], body["email"]) == (MOBILE, EMAIL)
    assert len(_unmask_entries(owner.tenant)) == 1


def _export(client):
    response = client.get("/customers/export/?format=csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_customer_export_masks_contact_details_without_the_permission(customer, owner, make_user, staff_client_as):
    finance = make_user("finance", username="fin2")
    finance.user_permissions.add(Permission.objects.get(codename="export_customer"))
    rows = _export(staff_client_as(finance))
    assert (rows[0]["mobile"], rows[0]["email"]) == ("138****8000", "z***@abc-tech.com")
    rows = _export(staff_client_as(owner))
    assert (rows[0]["mobile"], rows[0]["email"]) == (MOBILE, EMAIL)
    with tenant_scope(owner.tenant):
        details = sorted(
            e.changes["contact_details"]["new"] for e in AuditLog.objects.filter(action="crm.customer.exported")
        )
    assert details == ["full", "masked"]


def test_contract_documents_mask_contact_details(customer, owner):
    from contracts.documents.context import base_context
    from contracts.tests.factories import ContractFactory

    with tenant_scope(owner.tenant):
        contract = ContractFactory(customer=customer)
        masked = base_context(contract, show_amounts=True, show_contact_details=False)["customer"]["contact"]
        full = base_context(contract, show_amounts=True, show_contact_details=True)["customer"]["contact"]
    assert (masked["mobile"], masked["email"], masked["phone"]) == ("138****8000", "z***@abc-tech.com", "010****5678")
    assert (full["mobile"], full["email"]) == (MOBILE, EMAIL)


def test_notifications_mask_contact_details_for_recipients_without_the_permission(owner, make_user):
    viewer = make_user("viewer", username="viewer2")
    text = f"Call Zhang back on {MOBILE} or write to {EMAIL}"
    with tenant_scope(owner.tenant):
        notify(viewer, "test", None, text, email=False)
        notify(owner, "test", None, text, email=False)
        shown = dict(Notification.objects.values_list("recipient_id", "message"))
    assert shown[viewer.pk] == "Call Zhang back on 138****8000 or write to z***@abc-tech.com"
    assert shown[owner.pk] == text


def test_admin_contact_list_and_page_mask_without_the_permission(customer, owner, make_user, staff_client_as):
    viewer = make_user("viewer", username="viewer3", is_staff=True)
    with tenant_scope(owner.tenant):
        contact_id = customer.contacts.get().pk
    for url in ("/admin/customers/customercontact/", f"/admin/customers/customercontact/{contact_id}/change/"):
        page = staff_client_as(viewer).get(url)
        assert page.status_code == 200, url
        text = page.content.decode()
        assert "138****8000" in text and MOBILE not in text and EMAIL not in text, url
        full = staff_client_as(owner).get(url).content.decode()
        assert MOBILE in full and EMAIL in full, url
