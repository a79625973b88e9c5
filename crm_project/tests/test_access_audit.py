"""Access audit (PRD 7.4.2): reading a customer's detail (page and API), a contact's details, a contract document, and
every export write one audit row with who, what, when and from where; list pages write none. The finance ingest's
payment upsert is audited like every other write."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from accounts.integration import integration_key_create, sign
from accounts.models import AuditLog
from accounts.registry import audit_labels
from accounts.tenancy import tenant_scope, unscoped
from crm_project.audit import (
    ACCESS_LABELS,
    CONTACT_VIEWED,
    CONTRACT_DOCUMENT_VIEWED,
    CUSTOMER_VIEWED,
    EXPORT_PREFIX,
    record_access,
)
from crm_project.testing import World, api_client_for, assert_envelope, load_route_registries
from portal.tests.factories import make_report

pytestmark = pytest.mark.django_db

AGENT = "AccessAuditTest/1.0"
WHERE = {"HTTP_USER_AGENT": AGENT, "REMOTE_ADDR": "198.51.100.9"}


@pytest.fixture
def world(tenant, owner):
    load_route_registries()
    return World(tenant, owner)


@pytest.fixture
def staff(owner):
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def api(owner):
    return api_client_for(owner)


def _new_rows(before: int) -> list[AuditLog]:
    with unscoped("test reads every audit row"):
        return list(AuditLog.objects.filter(pk__gt=before).order_by("id"))


def _last_id() -> int:
    with unscoped("test reads every audit row"):
        return AuditLog.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _reads(rows, action_prefix=("crm.access.", EXPORT_PREFIX, "crm.customer.exported")) -> list[AuditLog]:
    return [row for row in rows if row.action.startswith(action_prefix)]


def _facts(row) -> dict:
    return {name: change["new"] for name, change in row.changes.items()}


def _assert_who_where(row, owner):
    assert (row.actor_id, row.actor_name, row.tenant_id) == (owner.pk, owner.username, owner.tenant_id)
    assert (row.ip_address, row.user_agent) == ("198.51.100.9", AGENT)
    assert row.created_at is not None


def test_every_access_action_has_a_label():
    assert all(action in audit_labels for action in ACCESS_LABELS)


def test_reading_a_customer_page_and_its_api_detail_is_recorded_but_not_the_lists(world, owner, staff, api):
    customer = world["customer"]
    before = _last_id()
    assert staff.get("/customers/", **WHERE).status_code == 200
    assert api.get("/api/v1/customers", **WHERE).status_code == 200
    assert _reads(_new_rows(before)) == []
    assert staff.get(f"/customers/{customer.pk}/", **WHERE).status_code == 200
    assert_envelope(api.get(f"/api/v1/customers/{customer.pk}", **WHERE), 200)
    rows = _reads(_new_rows(before))
    assert [(row.action, row.object_type, row.object_id) for row in rows] == [
        (CUSTOMER_VIEWED, "customers.customer", str(customer.pk))
    ] * 2
    assert [_facts(row)["via"] for row in rows] == ["page", "api"]
    assert _facts(rows[1])["view"] == "customer_detail"
    for row in rows:
        _assert_who_where(row, owner)
    # Reads are not changes: the customer's timeline does not list them.
    timeline = staff.get(f"/customers/{customer.pk}/?tab=timeline").content.decode()
    assert str(audit_labels.label(CUSTOMER_VIEWED)) not in timeline


def test_a_missing_or_foreign_customer_writes_no_access_row(world, outsider):
    customer = world["customer"]
    before = _last_id()
    assert_envelope(api_client_for(outsider).get(f"/api/v1/customers/{customer.pk}"), 404, code=40001)
    assert _reads(_new_rows(before)) == []


def test_reading_a_contacts_details_is_recorded(world, owner, api):
    contact = world["contact"]
    before = _last_id()
    assert_envelope(api.get(f"/api/v1/customers/{contact.customer_id}/contacts", **WHERE), 200)
    assert _reads(_new_rows(before)) == []
    assert_envelope(api.get(f"/api/v1/customers/{contact.customer_id}/contacts/{contact.pk}", **WHERE), 200)
    [row] = _reads(_new_rows(before))
    assert (row.action, row.object_type, row.object_id) == (CONTACT_VIEWED, "customers.customercontact",
                                                            str(contact.pk))  # fmt: skip
    _assert_who_where(row, owner)


def test_opening_and_downloading_a_contract_document_is_recorded(world, owner, staff, api):
    from contracts.documents import contract_document_generate

    contract = world["contract"]
    before = _last_id()
    assert staff.get(f"/contracts/{contract.pk}/document/?format=pdf", **WHERE).status_code == 404
    assert _reads(_new_rows(before)) == []  # nothing generated yet: nothing read
    with tenant_scope(owner.tenant):
        contract_document_generate(actor=owner, contract=contract, template=world["template"])
    before = _last_id()
    assert staff.get(f"/contracts/{contract.pk}/document/?format=pdf&download=1", **WHERE).status_code == 200
    assert staff.get(f"/contracts/{contract.pk}/document/?format=html", **WHERE).status_code == 200
    assert_envelope(
        api.post(f"/api/v1/contracts/{contract.pk}/preview", {"template_id": world["template"].pk}, format="json",
                 **WHERE),
        200,
    )  # fmt: skip
    rows = _reads(_new_rows(before))
    assert [(row.action, row.object_id) for row in rows] == [(CONTRACT_DOCUMENT_VIEWED, str(contract.pk))] * 3
    assert [(_facts(row)["format"], _facts(row).get("download")) for row in rows] == [
        ("pdf", True), ("html", False), ("preview", None)]  # fmt: skip
    for row in rows:
        _assert_who_where(row, owner)


@pytest.mark.parametrize(
    "what",
    ["customers", "contracts", "renewals", "segment_members", "service_report", "service_report_api"],
)
def test_every_export_is_recorded(world, owner, staff, api, what):
    customer = world["customer"]

    def report_url(api_path: bool) -> str:
        report = make_report(owner, customer)
        if api_path:
            return f"/api/v1/customers/{customer.pk}/reports/{report.pk}/file?type=pdf"
        return f"/service/customers/{customer.pk}/reports/{report.pk}/pdf/"

    urls = {
        "customers": (lambda: "/customers/export/?format=csv", "crm.customer.exported"),
        "contracts": (lambda: "/contracts/export/?status=active", EXPORT_PREFIX + "contracts"),
        "renewals": (lambda: "/contracts/renewals/export/?window=90", EXPORT_PREFIX + "renewals"),
        "segment_members": (
            lambda: f"/segments/{world['segment'].pk}/export?format=xlsx",
            EXPORT_PREFIX + "segment_members",
        ),  # fmt: skip
        "service_report": (lambda: report_url(False), EXPORT_PREFIX + "service_report"),
        "service_report_api": (lambda: report_url(True), EXPORT_PREFIX + "service_report"),
    }
    make_url, action = urls[what]
    url = make_url()
    before = _last_id()
    response = (api if url.startswith("/api/") else staff).get(url, **WHERE)
    assert response.status_code == 200, (url, response.status_code)
    b"".join(response.streaming_content) if response.streaming else response.content
    rows = _reads(_new_rows(before))
    assert [row.action for row in rows] == [action]
    _assert_who_where(rows[0], owner)
    if action.startswith(EXPORT_PREFIX):
        facts = _facts(rows[0])
        expected_filters = url.split("?", 1)[1] if "?" in url else None
        assert facts.get("filters") == expected_filters


def test_record_access_outside_a_view_names_the_object_and_no_user(world, rf):
    customer = world["customer"]
    request = rf.get("/anything", HTTP_USER_AGENT=AGENT)
    with tenant_scope(customer.tenant):
        row = record_access(request, customer, CUSTOMER_VIEWED, reason="test")
    assert (row.actor_id, row.object_id, _facts(row)["reason"], row.user_agent) == (None, str(customer.pk), "test",
                                                                                     AGENT)  # fmt: skip


def test_the_finance_ingest_payment_upsert_is_audited_with_the_key_as_actor(world, owner, client, tenant):
    contract = world["contract"]
    key, secret = integration_key_create(tenant=tenant, name="finance")
    payload = {"items": [{
        "contract_code": contract.contract_code,
        "invoice": {"external_id": "FIN-A-1", "invoice_number": "INV-A-1", "amount": 800,
                    "issue_date": "2026-02-01", "due_date": "2026-03-01"},
        "payment": {"external_id": "FIN-P-1", "amount": 800, "paid_date": "2026-02-20"},
    }]}  # fmt: skip
    body = json.dumps(payload).encode()
    ts = str(int(time.time()))
    before = _last_id()
    response = client.generic("POST", "/api/v1/integrations/payments", body, content_type="application/json",
                              HTTP_X_CRM_KEY=key.key_id, HTTP_X_CRM_TIMESTAMP=ts,
                              HTTP_X_CRM_SIGNATURE=sign(secret, ts, body), **WHERE)  # fmt: skip
    assert_envelope(response, 200)
    rows = {row.action: row for row in _new_rows(before)}
    payment = rows["crm.payment.upserted"]
    assert (payment.object_type, payment.object_id) == ("contracts.contract", str(contract.pk))
    assert (payment.actor_id, payment.actor_name) == (None, f"integration:{key.key_id}")
    assert rows["crm.invoice.upserted"].actor_name == f"integration:{key.key_id}"
    facts = _facts(payment)
    assert (facts["payment"], facts["invoice"], facts["invoice_status"]) == ("FIN-P-1", "INV-A-1", "paid")
    assert payment.changes["amount"]["old"] is None
    assert "***" in payment.changes["amount"]["new"]  # amounts are masked in the audit log
    assert payment.ip_address == "198.51.100.9"
    assert str(audit_labels.label("crm.payment.upserted")) != "crm.payment.upserted"
