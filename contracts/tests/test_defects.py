"""Regression tests of issue 8 (contracts side) and the one-write-path rules of issue 7, built with the factories."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation
from pypdf import PdfReader

from accounts.tenancy import tenant_scope
from contracts import services
from contracts.admin import ClauseForm, ContractTemplateForm
from contracts.choices import ChangeStatus, ContractStatus
from contracts.documents import (
    MAX_LOOP_DEPTH,
    TemplateRenderError,
    compile_template_text,
    contract_document_generate,
    render_template_text,
)
from contracts.models import Contract, Invoice, Payment
from contracts.tests.factories import (
    ChangeRequestFactory,
    ClauseFactory,
    ContractFactory,
    ContractTemplateFactory,
    InvoiceFactory,
    MilestoneFactory,
    PaymentFactory,
    SlaBindingFactory,
    TemplateClauseFactory,
)
from crm_project.api import codes
from crm_project.testing import assert_envelope
from customers import services as customer_services

AMOUNT = Decimal("500000.00")
SHOWN = ("500,000", "500000")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def customer(owner, teammate):
    with tenant_scope(owner.tenant):
        return customer_services.customer_create(
            actor=owner, data={"customer_name": "北京云启科技有限公司", "assigned_manager": teammate}
        )


@pytest.fixture
def lead(make_user):
    return make_user(role="cs_lead", username="lead")


@pytest.fixture
def lead2(make_user):
    return make_user(role="cs_lead", username="lead2")


@pytest.fixture
def viewer(make_user):
    return make_user(role="viewer", username="viewer")


@pytest.fixture
def finance(make_user):
    return make_user(role="finance", username="finance")


@pytest.fixture
def active(customer):
    contract = ContractFactory(customer=customer, status=ContractStatus.ACTIVE, contract_amount=AMOUNT)
    SlaBindingFactory(contract=contract)
    return contract


@pytest.fixture
def template(owner):
    template = ContractTemplateFactory(
        tenant=owner.tenant, body="<p>金额 {{ amount }} / {{ contract.contract_amount }}</p>"
    )
    clause = ClauseFactory(tenant=owner.tenant, title="付款条款", body="合同金额 {{ amount }}。")
    TemplateClauseFactory(template=template, clause=clause)
    return template


def reload(obj):
    with tenant_scope(obj.tenant):
        return type(obj).objects.get(pk=obj.pk)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# --- Issue 8.1: one masking rule for documents and previews ----------------------------------------------------------
@pytest.mark.parametrize("role", ["csm", "viewer"])
def test_preview_masks_the_amount_for_roles_without_the_permission(
    api_as, owner, customer, active, template, make_user, role
):
    user = make_user(role=role, username=f"{role}1") if role == "viewer" else customer.assigned_manager
    response = api_as(user).post(f"/api/v1/contracts/{active.pk}/preview", {"template_id": template.pk}, format="json")
    data = assert_envelope(response, 200)
    assert not any(amount in data["html"] for amount in SHOWN)
    assert "***" in data["html"] and data["amounts_masked"] is True
    assert 'class="masked-notice"' in data["html"]  # the masked document says so


def test_preview_shows_the_amount_to_finance(api_as, active, template, finance):
    response = api_as(finance).post(
        f"/api/v1/contracts/{active.pk}/preview", {"template_id": template.pk}, format="json"
    )
    data = assert_envelope(response, 200)
    assert "CNY 500,000.00" in data["html"] and data["amounts_masked"] is False


@pytest.mark.parametrize("role", ["csm", "viewer"])
def test_document_downloads_are_masked_for_csm_and_viewer(
    owner, customer, active, template, make_user, staff_client_as, role
):
    with tenant_scope(owner.tenant), translation.override("en"):
        contract_document_generate(actor=owner, contract=active, template=template)
    user = customer.assigned_manager if role == "csm" else make_user(role="viewer", username="viewer1")
    client = staff_client_as(user)
    page = client.get(f"/contracts/{active.pk}/document/?format=html")
    html = page.content.decode()
    assert page.status_code == 200 and "sandbox" in page["Content-Security-Policy"]
    assert not any(amount in html for amount in SHOWN) and "***" in html and "Amounts are masked" in html
    pdf = client.get(f"/contracts/{active.pk}/document/?format=pdf")
    text = "".join(pdf_text(b"".join(pdf.streaming_content)).split())
    assert pdf["Content-Type"] == "application/pdf"
    assert not any(amount in text for amount in SHOWN) and "***" in text and "Amountsaremasked" in text
    # The stored document (served to whoever may see amounts) keeps the amount.
    lead_html = staff_client_as(owner).get(f"/contracts/{active.pk}/document/?format=html").content.decode()
    assert "CNY 500,000.00" in lead_html and "Amounts are masked" not in lead_html


def test_the_document_context_carries_no_amount_when_masked(owner, active, template):
    with tenant_scope(owner.tenant):
        text = render_template_text(template, active, show_amounts=False)
    assert "500" not in text.replace("***", "") and text.count("***") == 3


# --- Issue 8.5: bounded template rendering -------------------------------------------------------------------------
NESTED_4 = (
    "{% for a in s %}{% for b in s %}{% for c in s %}{% for d in s %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}"
)


def test_deeply_nested_loops_are_refused_when_the_template_is_saved(owner, staff_client_as):
    with pytest.raises(TemplateRenderError, match=f"at most {MAX_LOOP_DEPTH} nested"):
        compile_template_text(NESTED_4)
    with tenant_scope(owner.tenant), translation.override("en"):
        form = ContractTemplateForm(data={"name": "炸弹", "body": NESTED_4, "is_active": True})
        assert not form.is_valid() and "nested" in str(form.errors["body"])
        clause = ClauseForm(data={"title": "炸弹条款", "category": "x", "body": NESTED_4, "is_active": True})
        assert not clause.is_valid() and "炸弹条款" in str(clause.errors["body"])


def test_a_render_past_the_loop_budget_stops_with_a_clear_error(owner, active):
    # Three nested loops over the 55-character payment terms: 166,375 iterations, far past the budget.
    with tenant_scope(owner.tenant):
        Contract.objects.filter(pk=active.pk).update(payment_terms="x" * 55)
        active.refresh_from_db()
        body = "{% for a in contract.payment_terms %}{% for b in contract.payment_terms %}"
        body += "{% for c in contract.payment_terms %}.{% endfor %}{% endfor %}{% endfor %}"
        template = ContractTemplateFactory(tenant=owner.tenant, body=body)
        with translation.override("en"), pytest.raises(TemplateRenderError, match="too much work"):
            render_template_text(template, active, show_amounts=True)


def test_string_doubling_with_add_is_refused(owner, active):
    body = (
        "{% with a=customer.customer_name %}"
        + "".join("{% with a=a|add:a %}" for _ in range(30))
        + "{{ a|length }}"
        + "{% endwith %}" * 31
    )
    with tenant_scope(owner.tenant):
        template = ContractTemplateFactory(tenant=owner.tenant, body=body)
        with pytest.raises(TemplateRenderError):
            render_template_text(template, active, show_amounts=True)


def test_the_preview_api_answers_400_for_a_runaway_template(api_as, owner, active):
    with tenant_scope(owner.tenant):
        Contract.objects.filter(pk=active.pk).update(payment_terms="y" * 55)
    body = "{% for a in contract.payment_terms %}{% for b in contract.payment_terms %}"
    body += "{% for c in contract.payment_terms %}{% endfor %}{% endfor %}{% endfor %}"
    template = ContractTemplateFactory(tenant=owner.tenant, body=body)
    response = api_as(owner).post(f"/api/v1/contracts/{active.pk}/preview", {"template_id": template.pk}, format="json")
    assert_envelope(response, 400, code=codes.VALIDATION_ERROR)


# --- Issue 8.7: milestone detail, calendar ends --------------------------------------------------------------------
def test_milestone_detail_get_works_and_post_is_not_a_route(api_as, owner, active):
    milestone = MilestoneFactory(contract=active, title="上线")
    url = f"/api/v1/contracts/{active.pk}/milestones/{milestone.pk}"
    data = assert_envelope(api_as(owner).get(url), 200)
    assert data["milestone_id"] == milestone.pk and data["title"] == "上线"
    assert api_as(owner).post(url, {"title": "x", "due_date": "2026-05-01"}, format="json").status_code == 405
    assert reload(milestone).title == "上线"
    schema = api_as(owner).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operations = schema["paths"]["/api/v1/contracts/{contract_id}/milestones/{milestone_id}"]
    assert set(operations) - {"parameters"} == {"get", "patch"}


def test_renewing_a_contract_at_the_end_of_the_calendar_is_a_400_not_a_500(api_as, owner, customer):
    contract = ContractFactory(
        customer=customer, status=ContractStatus.ACTIVE, start_date=date(9000, 1, 1), end_date=date.max
    )
    data = assert_envelope(
        api_as(owner).post(f"/api/v1/contracts/{contract.pk}/renew", {}, format="json"),
        400,
        code=codes.CONTRACT_INVALID,
    )
    assert data["field"] == "end_date"
    with tenant_scope(owner.tenant):
        assert not Contract.objects.filter(predecessor=contract).exists()


BODY = {
    "contract_name": "年度运维服务合同",
    "contract_amount": 360000,
    "start_date": "2026-01-01",
    "end_date": "2026-12-31",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_date": "9999-12-31"}, "end_date"),
        ({"end_date": "2101-01-01"}, "end_date"),
        ({"start_date": "0001-01-01"}, "start_date"),
        ({"start_date": "2026-01-01", "end_date": "2076-01-02"}, "end_date"),  # longer than 50 years
    ],
)
def test_contract_dates_beyond_the_horizon_are_40005_naming_the_field(api_as, owner, customer, change, field):
    url = f"/api/v1/customers/{customer.pk}/contracts"
    data = assert_envelope(api_as(owner).post(url, {**BODY, **change}, format="json"), 400, code=codes.CONTRACT_INVALID)
    assert data["field"] == field
    draft = ContractFactory(customer=customer)
    response = api_as(owner).patch(f"/api/v1/contracts/{draft.pk}", change, format="json")
    assert assert_envelope(response, 400, code=codes.CONTRACT_INVALID)["field"] == field
    assert reload(draft).end_date == date(2026, 12, 31)


def test_fifty_years_exactly_is_accepted(api_as, owner, customer):
    body = {**BODY, "start_date": "2026-01-01", "end_date": "2076-01-01"}
    assert_envelope(api_as(owner).post(f"/api/v1/customers/{customer.pk}/contracts", body, format="json"), 201)


# --- Issue 8.10: data quality and messages -------------------------------------------------------------------------
def test_a_payment_beyond_the_invoice_amount_is_refused(api_as, active, finance):
    invoice = InvoiceFactory(contract=active, amount=Decimal("5000.00"))
    PaymentFactory(invoice=invoice, amount=Decimal("3000.00"))
    url = f"/api/v1/invoices/{invoice.pk}/payments"
    data = assert_envelope(api_as(finance).post(url, {"amount": 2500, "paid_date": "2026-02-21"}, format="json"), 400)
    assert data["field"] == "amount"
    with tenant_scope(active.tenant):
        assert Payment.objects.filter(invoice=invoice).count() == 1
    assert_envelope(api_as(finance).post(url, {"amount": 2000, "paid_date": "2026-02-21"}, format="json"), 201)
    assert reload(invoice).status == "paid"


def test_an_invoice_on_a_draft_contract_is_refused(api_as, customer, finance):
    draft = ContractFactory(customer=customer)
    body = {"invoice_number": "INV-1", "amount": 100, "issue_date": "2026-02-01", "due_date": "2026-03-01"}
    response = api_as(finance).post(f"/api/v1/contracts/{draft.pk}/invoices", body, format="json")
    data = assert_envelope(response, 409, code=codes.CONFLICT)
    assert data["current_status"] == "draft"
    with tenant_scope(draft.tenant):
        assert not Invoice.objects.exists()


def test_patch_with_customer_id_says_it_is_read_only(api_as, owner, customer):
    draft = ContractFactory(customer=customer)
    with tenant_scope(owner.tenant):
        other = customer_services.customer_create(actor=owner, data={"customer_name": "上海星河"})
    response = api_as(owner).patch(f"/api/v1/contracts/{draft.pk}", {"customer_id": other.pk}, format="json")
    data = assert_envelope(response, 400, code=codes.VALIDATION_ERROR)
    assert data["field"] == "customer_id"
    assert reload(draft).customer_id == customer.pk


def test_a_change_request_on_a_draft_says_only_active_contracts_can_be_changed(api_as, owner, customer):
    draft = ContractFactory(customer=customer)
    response = api_as(owner).post(
        f"/api/v1/contracts/{draft.pk}/change-requests",
        {"changes": {"payment_terms": "Net 60"}, "reason": "预算"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert_envelope(response, 409, code=codes.CONFLICT)
    message = json.loads(response.content)["message"]
    assert "'draft' to 'draft'" not in message and "active" in message


def test_rejecting_an_approved_request_says_it_is_already_decided(api_as, active, lead, lead2):
    change = ChangeRequestFactory(contract=active, requested_by=lead, status=ChangeStatus.APPROVED)
    response = api_as(lead2).post(
        f"/api/v1/change-requests/{change.pk}/reject", {}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert_envelope(response, 409, code=codes.CONFLICT)
    message = json.loads(response.content)["message"]
    assert "already decided" in message and "reason" not in message
    assert reload(change).status == ChangeStatus.APPROVED


def test_editing_an_active_contract_is_contract_not_editable(api_as, owner, active):
    response = api_as(owner).patch(
        f"/api/v1/contracts/{active.pk}", {"contract_name": "改名"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    data = assert_envelope(response, 409, code=codes.CONFLICT)
    assert data == {"current_status": "active"}
    assert "Only drafts can be edited" in json.loads(response.content)["message"]
    with pytest.raises(services.ContractNotEditable):
        services.contract_update(actor=owner, contract=active, data={"contract_name": "x"})
    assert reload(active).contract_name != "改名"


# --- Issue 7.4: one write path -------------------------------------------------------------------------------------
def test_the_wizard_validates_without_creating_a_contract(owner, lead, customer, staff_client_as, monkeypatch):
    def refuse(**kwargs):
        raise AssertionError("step 1 must not create (and roll back) a contract")

    monkeypatch.setattr(services, "contract_create", refuse)
    data = {
        "step": "1",
        "terms-customer": customer.pk,
        "terms-contract_name": "Support 2026",
        "terms-contract_type": 1,
        "terms-contract_amount": "1000",
        "terms-currency": "CNY",
        "terms-start_date": "2026-01-01",
        "terms-end_date": "2026-12-31",
        "terms-renewal_type": 1,
        "terms-renewal_notice_days": 90,
    }
    response = staff_client_as(lead).post("/contracts/new/", data)
    assert response.status_code == 200 and 'data-step="2"' in response.content.decode()
    bad = staff_client_as(lead).post("/contracts/new/", {**data, "terms-end_date": "2101-01-01"})
    assert bad.status_code == 400


def test_payments_ingest_is_all_or_nothing(owner, active):
    items = [
        {"contract_code": active.contract_code, "invoice": {"external_id": "F-1", "invoice_number": "I-1",
         "amount": Decimal("100"), "issue_date": date(2026, 2, 1), "due_date": date(2026, 3, 1)},
         "payment": {"external_id": "P-1", "amount": Decimal("100"), "paid_date": date(2026, 2, 2)}},
        {"contract_code": "CT-NOPE", "invoice": {"external_id": "F-2", "invoice_number": "I-2",
         "amount": Decimal("1"), "issue_date": date(2026, 2, 1), "due_date": date(2026, 3, 1)}},
    ]  # fmt: skip
    with tenant_scope(owner.tenant):
        with pytest.raises(services.UnknownContract) as excinfo:
            services.payments_ingest(items=items)
        assert excinfo.value.field == "items[1].contract_code" and not Invoice.objects.exists()
        results = services.payments_ingest(items=items[:1])
    assert results[0]["invoice_status"] == "paid" and results[0]["payment_id"]


@pytest.mark.parametrize(("role", "allowed"), [("tenant_admin", True), ("cs_lead", True), ("csm", True),
                                               ("finance", False), ("viewer", False)])  # fmt: skip
def test_contract_exports_need_the_contracts_export_permission(
    owner, customer, active, make_user, staff_client_as, role, allowed
):
    user = customer.assigned_manager if role == "csm" else make_user(role=role, username=f"x{role}")
    assert user.has_perm("contracts.export_contract") is allowed
    for url in ("/contracts/export/", "/contracts/renewals/export/"):
        assert staff_client_as(user).get(url).status_code == (200 if allowed else 403), url


def test_allowed_actions_follow_the_state(customer):
    draft = ContractFactory(customer=customer)
    active = ContractFactory(customer=customer, status=ContractStatus.ACTIVE)
    expired = ContractFactory(customer=customer, status=ContractStatus.EXPIRED)
    assert services.allowed_actions(draft) == {"edit", "sign"}
    assert services.allowed_actions(active) == {"request_change", "renew", "invoice", "terminate"}
    assert services.allowed_actions(expired) == {"renew", "invoice"}


def test_the_invoice_form_on_a_draft_is_an_error_not_a_500(owner, customer, staff_client_as):
    draft = ContractFactory(customer=customer)
    data = {"invoice-invoice_number": "INV-9", "invoice-amount": "100", "invoice-issue_date": "2026-02-01",
            "invoice-due_date": "2026-03-01", "invoice-status": "issued"}  # fmt: skip
    response = staff_client_as(owner).post(f"/contracts/{draft.pk}/invoices/", data)
    assert response.status_code == 400 and "draft" in response.content.decode()
    with tenant_scope(owner.tenant):
        assert not Invoice.objects.exists()


def test_the_expiry_job_expires_an_auto_renewal_whose_next_term_leaves_the_horizon(owner, customer):
    from contracts.choices import RenewalType

    contract = ContractFactory(
        customer=customer,
        status=ContractStatus.ACTIVE,
        renewal_type=RenewalType.AUTO,
        start_date=date(2030, 1, 1),
        end_date=date(2079, 12, 31),
    )
    with tenant_scope(owner.tenant):
        counts = services.contracts_expire_due(today=date(2080, 1, 2))
        assert not Contract.objects.filter(predecessor=contract).exists()
    assert counts["expired"] == 1 and counts["auto_renewed"] == 0
    assert reload(contract).status == ContractStatus.EXPIRED
