"""Customer writes owned by customers (issue 7) and the customer-side defects of issue 8 (8, 9, 10)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from crm_project.api import codes
from crm_project.testing import assert_envelope
from customers import services
from customers.choices import CustomerStatus
from customers.signals import customer_status_changed
from customers.tests.factories import make_contact, make_customer, make_tag, reload, share
from customers.tests.test_views import customer_form_data


@pytest.fixture
def lead(make_user):
    return make_user(role="cs_lead", username="lead")


def audit_actions(customer) -> list[str]:
    with tenant_scope(customer.tenant):
        return list(
            AuditLog.objects.filter(object_type="customers.customer", object_id=str(customer.pk))
            .order_by("id")
            .values_list("action", flat=True)
        )


# --- Status: only the PRD 5.2.1 lifecycle ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["post", "patch"])
def test_api_refuses_a_direct_status_write_naming_the_field(api_as, owner, method):
    customer = make_customer(owner, customer_name="Status Co")
    client = api_as(owner)
    if method == "post":
        response = client.post("/api/v1/customers", {"customer_name": "Other Co", "status": 2}, format="json")
    else:
        response = client.patch(f"/api/v1/customers/{customer.pk}", {"status": 2}, format="json")
    data = assert_envelope(response, status=400, code=codes.VALIDATION_ERROR)
    assert data["field"] == "status"
    assert reload(customer).status == CustomerStatus.POTENTIAL
    with tenant_scope(owner.tenant):
        assert not services.Customer.objects.filter(customer_name="Other Co").exists()


def test_staff_form_refuses_a_status_change(owner, staff_client_as):
    customer = make_customer(owner, customer_name="Form Status Co")
    response = staff_client_as(owner).post(
        f"/customers/{customer.pk}/edit/", customer_form_data(customer_name="Form Status Co", status=2)
    )
    assert response.status_code == 400
    assert "follows the contracts" in response.content.decode()
    assert reload(customer).status == CustomerStatus.POTENTIAL


def test_status_changes_only_along_the_lifecycle_audited_with_reason_and_signalled(owner):
    customer = make_customer(owner, customer_name="Life Co")
    received = []

    def receiver(sender, customer, old, new, reason, actor, **kwargs):
        received.append((old, new, reason))

    customer_status_changed.connect(receiver, dispatch_uid="test-lifecycle")
    try:
        with tenant_scope(owner.tenant):
            assert services.customer_status_change(
                customer=customer, new_status=CustomerStatus.FORMAL, reason="signed", actor=owner
            )
            with pytest.raises(ValidationError) as refused:
                services.customer_status_change(customer=customer, new_status=CustomerStatus.POTENTIAL, reason="x")
            assert "status" in refused.value.message_dict
            # Unchanged status: nothing to do, nothing audited.
            assert not services.customer_status_change(customer=customer, new_status=CustomerStatus.FORMAL, reason="x")
            entry = AuditLog.objects.filter(action="crm.customer.status_changed").get()
    finally:
        customer_status_changed.disconnect(dispatch_uid="test-lifecycle")
    assert reload(customer).status == CustomerStatus.FORMAL
    assert received == [(CustomerStatus.POTENTIAL, CustomerStatus.FORMAL, "signed")]
    assert entry.changes["status"] == {"old": 1, "new": 2} and entry.changes["reason"]["new"] == "signed"


def test_potential_to_lost_only_by_hand(owner):
    customer = make_customer(owner, customer_name="Never Signed Co")
    with tenant_scope(owner.tenant):
        with pytest.raises(ValidationError):
            services.customer_status_change(customer=customer, new_status=CustomerStatus.LOST, reason="gone")
        assert services.customer_status_change(
            customer=customer, new_status=CustomerStatus.LOST, reason="gone", actor=owner, manual=True
        )
    assert reload(customer).status == CustomerStatus.LOST


def test_admin_mark_as_lost_needs_a_reason_and_is_audited(owner, staff_client_as):
    customer = make_customer(owner, customer_name="Admin Lost Co")
    client = staff_client_as(owner)
    url = "/admin/customers/customer/"
    client.post(url, {"action": "mark_lost", "_selected_action": [customer.pk], "reason": ""})
    assert reload(customer).status == CustomerStatus.POTENTIAL
    client.post(url, {"action": "mark_lost", "_selected_action": [customer.pk], "reason": "Went bankrupt"})
    assert reload(customer).status == CustomerStatus.LOST
    assert "crm.customer.status_changed" in audit_actions(customer)


# --- Merge through the API -------------------------------------------------------------------------------------------
def test_merge_api_moves_contacts_and_tags_and_is_audited(api_as, lead, owner):
    survivor = make_customer(owner, customer_name="Survivor Co", contacts=[{"contact_name": "Li", "is_primary": True}])
    duplicate = make_customer(owner, customer_name="Duplicate Co", tags=["vip"])
    make_contact(owner, duplicate, contact_name="Wang", is_primary=True)
    make_tag(owner, survivor, "north")
    response = api_as(lead).post(
        f"/api/v1/customers/{survivor.pk}/merge", {"duplicate_id": duplicate.pk}, format="json"
    )
    data = assert_envelope(response, status=200)
    assert {c["contact_name"] for c in data["contacts"]} == {"Li", "Wang"}
    assert [c["contact_name"] for c in data["contacts"] if c["is_primary"]] == ["Li"]
    assert {t["tag_name"] for t in data["tags"]} == {"vip", "north"}
    assert reload(duplicate).deleted_at is not None and reload(duplicate).merged_into_id == survivor.pk
    assert "crm.customer.merged" in audit_actions(survivor)


def test_merge_api_is_for_leads_and_admins_and_404s_what_the_caller_cannot_see(
    api_as, owner, teammate, outsider, make_user
):
    survivor = make_customer(owner, customer_name="Keep Co", assigned_manager=teammate)
    duplicate = make_customer(owner, customer_name="Fold Co")
    url = f"/api/v1/customers/{survivor.pk}/merge"
    # A CSM (no merge permission) and a viewer: refused, nothing changes.
    assert_envelope(api_as(teammate).post(url, {"duplicate_id": duplicate.pk}, format="json"), status=403)
    assert_envelope(api_as(make_user(role="viewer")).post(url, {"duplicate_id": duplicate.pk}, format="json"), 403)
    assert reload(duplicate).deleted_at is None
    # Another tenant: 404 40001 for the survivor, and for a duplicate id of another tenant.
    assert_envelope(
        api_as(outsider).post(url, {"duplicate_id": duplicate.pk}, format="json"), 404, code=codes.CUSTOMER_NOT_FOUND
    )
    foreign = make_customer(outsider, customer_name="Foreign Co")
    assert_envelope(
        api_as(owner).post(url, {"duplicate_id": foreign.pk}, format="json"), 404, code=codes.CUSTOMER_NOT_FOUND
    )
    assert reload(foreign).deleted_at is None
    # Merging into itself names the field; a missing body names it too.
    assert assert_envelope(api_as(owner).post(url, {"duplicate_id": survivor.pk}, format="json"), 400)["field"] == (
        "duplicate_id"
    )
    assert assert_envelope(api_as(owner).post(url, {}, format="json"), 400)["field"] == "duplicate_id"


def test_merge_is_in_the_openapi_schema(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    assert "post" in schema["paths"]["/api/v1/customers/{customer_id}/merge"]


# --- Issue 8 item 9: no leaks --------------------------------------------------------------------------------------
def test_duplicate_name_409_does_not_name_a_customer_the_caller_cannot_see(api_as, owner, teammate, make_user):
    hidden = make_customer(owner, customer_name="Hidden Holdings")
    response = api_as(teammate).post("/api/v1/customers", {"customer_name": "hidden holdings"}, format="json")
    body = response.json()
    assert response.status_code == 409 and body["code"] == codes.CUSTOMER_DUPLICATE
    assert body["data"] is None and hidden.customer_code not in response.content.decode()
    # Shared with the CSM: now the answer may point at it.
    share(owner, hidden, teammate)
    response = api_as(teammate).post("/api/v1/customers", {"customer_name": "Hidden Holdings"}, format="json")
    assert response.status_code == 409 and response.json()["data"]["customer_id"] == hidden.pk


def test_staff_form_duplicate_message_hides_the_code_of_an_invisible_customer(owner, teammate, staff_client_as):
    hidden = make_customer(owner, customer_name="Secret Works")
    response = staff_client_as(teammate).post("/customers/new/", customer_form_data(customer_name="Secret Works"))
    assert response.status_code == 400 and hidden.customer_code not in response.content.decode()


@pytest.mark.parametrize(
    ("role", "sees"), [("tenant_admin", True), ("finance", True), ("csm", False), ("viewer", False)]
)
def test_ltv_follows_the_amount_permission(api_as, owner, make_user, role, sees):
    user = make_user(role=role)
    customer = make_customer(owner, customer_name="Money Co", assigned_manager=user if role == "csm" else None)
    with tenant_scope(owner.tenant):
        services.Customer.objects.filter(pk=customer.pk).update(ltv="123456.78")
    client = api_as(user)
    item = assert_envelope(client.get("/api/v1/customers"), 200)["items"][0]
    info = assert_envelope(client.get(f"/api/v1/customers/{customer.pk}"), 200)["customer_info"]
    expected = 123456.78 if sees else "***"
    assert item["ltv"] == expected and info["ltv"] == expected
    sort = client.get("/api/v1/customers?sort=ltv,desc")
    assert sort.status_code == (200 if sees else 400)


def test_ltv_is_masked_on_the_customer_page_for_a_viewer(owner, make_user, staff_client_as):
    customer = make_customer(owner, customer_name="Page Money Co")
    with tenant_scope(owner.tenant):
        services.Customer.objects.filter(pk=customer.pk).update(ltv="98765.43")
    viewer_page = staff_client_as(make_user(role="viewer")).get(f"/customers/{customer.pk}/").content.decode()
    admin_page = staff_client_as(owner).get(f"/customers/{customer.pk}/").content.decode()
    assert "98765.43" not in viewer_page and "98765.43" in admin_page


def test_admin_user_list_offers_no_tenant_filter_to_a_tenant_admin(owner, outsider, staff_client_as):
    page = staff_client_as(owner).get("/admin/accounts/user/").content.decode()
    assert outsider.tenant.name not in page


# --- Issue 8 item 8: staff status does not widen what a CSM sees ----------------------------------------------------
def test_csm_with_staff_status_sees_only_their_customers_in_the_admin(owner, make_user, staff_client_as):
    csm = make_user(role="csm", username="staffcsm", is_staff=True)
    mine = make_customer(owner, customer_name="Mine Co", assigned_manager=csm)
    other = make_customer(owner, customer_name="Not Mine Co")
    make_contact(owner, other, contact_name="Hidden Contact")
    client = staff_client_as(csm)
    listing = client.get("/admin/customers/customer/").content.decode()
    assert "Mine Co" in listing and "Not Mine Co" not in listing
    assert client.get(f"/admin/customers/customer/{other.pk}/change/").status_code in (302, 404)
    assert "Hidden Contact" not in client.get("/admin/customers/customercontact/").content.decode()
    assert client.get(f"/admin/customers/customer/{mine.pk}/change/").status_code == 200


# --- Issue 8 item 10: names without letters or digits ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["!!!", "😀😀", "\u200b\u200b", "— · —"])
def test_a_name_without_letters_or_digits_is_refused(api_as, owner, name):
    data = assert_envelope(api_as(owner).post("/api/v1/customers", {"customer_name": name}, format="json"), 400)
    assert data["field"] == "customer_name"
    with tenant_scope(owner.tenant):
        assert not services.Customer.objects.exists()
