"""Staff pages for contracts: isolation, role matrix, lifecycle actions, change approval with versions and diff,
renewal pipeline, milestones, SLA, invoices, documents, the wizard, exports and query budgets."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.utils import timezone

from accounts.tenancy import tenant_scope
from contracts import services
from contracts.choices import ChangeStatus, ContractStatus
from contracts.models import ChangeRequest, Contract, ContractSlaBinding, ContractTemplate, Milestone, SlaPolicy
from crm_project.testing import assert_isolated, assert_page_not_found, query_budget
from customers.choices import CustomerStatus
from customers.models import Customer
from customers.tests.factories import make_customer, reload

pytestmark = pytest.mark.django_db

LIST = "/contracts/"
HTMX = {"HX-Request": "true"}


# --- Fixtures and helpers -------------------------------------------------------------------------------------------
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
def csm_customer(owner, teammate):
    """A customer managed by the CSM `teammate`."""
    return make_customer(owner, customer_name="Acme Cloud Ltd", assigned_manager=teammate)


@pytest.fixture
def hidden_customer(owner):
    """A customer the CSM `teammate` neither manages nor was shared."""
    return make_customer(owner, customer_name="Hidden Harbour Co")


def today():
    return timezone.localdate()


def make_contract(actor, customer, *, sign=False, **data) -> Contract:
    values = {
        "contract_name": "Managed operations 2025",
        "contract_amount": Decimal("120000.00"),
        "start_date": today() - timedelta(days=30),
        "end_date": today() + timedelta(days=335),
        **data,
    }
    with tenant_scope(customer.tenant):
        contract = services.contract_create(actor=actor, customer=customer, data=values)
        if sign:
            contract = services.contract_sign(actor=actor, contract=contract)
    return contract


def reload_contract(contract: Contract) -> Contract:
    with tenant_scope(contract.tenant):
        return Contract.objects.get(pk=contract.pk)


def body(response) -> str:
    return response.content.decode()


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def message_levels(response) -> list[str]:
    return [message.level_tag for message in get_messages(response.wsgi_request)]


def shows(page: str, amount: str) -> bool:
    """The amount as the page's locale formats it (grouped in English, plain in Chinese)."""
    whole, cents = amount.split(".")
    return amount in page or f"{int(whole):,}.{cents}" in page


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def fake_documents(monkeypatch):
    """Stand in for contracts.documents in the views and record the calls (the real module has its own tests)."""
    calls = []

    def contract_document_generate(*, actor, contract, template, request=None):
        calls.append(("generate", contract.pk, template.pk, actor.pk))
        Contract.objects.filter(pk=contract.pk).update(document_html=f"<h1>{contract.contract_code}</h1>")

    def document_response(contract, fmt, *, user, download=False):
        calls.append(("download", contract.pk, fmt))
        return HttpResponse(f"{fmt}:{contract.contract_code}", content_type="text/plain")

    from contracts.views import create, documents

    monkeypatch.setattr(documents, "contract_document_generate", contract_document_generate)
    monkeypatch.setattr(documents, "document_response", document_response)
    monkeypatch.setattr(create, "contract_document_generate", contract_document_generate)
    return calls


# --- Isolation ------------------------------------------------------------------------------------------------------
def test_every_contract_page_is_a_404_for_another_tenant(owner, outsider, csm_customer, staff_client_as):
    draft = make_contract(owner, csm_customer)
    active = make_contract(owner, csm_customer, sign=True, contract_name="Active one")
    owner_client, outsider_client = staff_client_as(owner), staff_client_as(outsider)
    for url in [
        f"/contracts/{draft.pk}/",
        f"/contracts/{draft.pk}/edit/",
        f"/contracts/{active.pk}/",
        f"/contracts/{active.pk}/changes/new/",
    ]:
        assert_isolated(url=url, owner_client=owner_client, outsider_client=outsider_client, api=False)
    for url in [
        f"/contracts/{draft.pk}/sign/",
        f"/contracts/{active.pk}/terminate/",
        f"/contracts/{active.pk}/renew/",
        f"/contracts/{active.pk}/milestones/",
        f"/contracts/{active.pk}/sla/",
        f"/contracts/{active.pk}/invoices/",
        f"/contracts/{active.pk}/payments/",
        f"/contracts/{active.pk}/generate/",
    ]:
        assert_page_not_found(outsider_client, url, methods=("post",))
    for url in [f"/contracts/{active.pk}/document/?format=html", f"/contracts/{active.pk}/versions/2/diff/"]:
        assert_page_not_found(outsider_client, url)
    with tenant_scope(owner.tenant):
        change = services.change_request_create(
            actor=owner, contract=active, changes={"payment_terms": "Net 45"}, reason="Customer asked"
        )
    assert_page_not_found(outsider_client, f"/contracts/changes/{change.pk}/decide/", methods=("post",))
    # Nothing of the other tenant in the lists either.
    for url in [LIST, "/contracts/renewals/?window=180", "/contracts/approvals/"]:
        page = body(outsider_client.get(url))
        assert active.contract_code not in page and draft.contract_code not in page
    assert reload_contract(draft).status == ContractStatus.DRAFT
    assert reload_contract(active).status == ContractStatus.ACTIVE


def test_a_csm_gets_404_for_contracts_of_customers_they_do_not_see(
    owner, teammate, csm_customer, hidden_customer, staff_client_as
):
    mine = make_contract(owner, csm_customer, sign=True, contract_name="Mine")
    hidden = make_contract(
        owner, hidden_customer, sign=True, contract_name="Not mine", end_date=today() + timedelta(50)
    )
    hidden_draft = make_contract(owner, hidden_customer, contract_name="Hidden draft")
    client = staff_client_as(teammate)
    assert client.get(f"/contracts/{mine.pk}/").status_code == 200
    for url in [
        f"/contracts/{hidden.pk}/",
        f"/contracts/{hidden.pk}/changes/new/",
        f"/contracts/{hidden_draft.pk}/edit/",
        f"/contracts/{hidden.pk}/document/?format=pdf",
    ]:
        assert_page_not_found(client, url)
    for url in [
        f"/contracts/{hidden.pk}/milestones/",
        f"/contracts/{hidden.pk}/sla/",
        f"/contracts/{hidden.pk}/generate/",
    ]:
        assert_page_not_found(client, url, methods=("post",))
    listing = body(client.get(LIST))
    assert mine.contract_code in listing and hidden.contract_code not in listing
    assert hidden.contract_code not in body(client.get("/contracts/renewals/?window=60"))
    # The wizard refuses a customer the CSM does not see, both as ?customer= and as a posted value.
    assert client.get(f"/contracts/new/?customer={hidden_customer.pk}").status_code == 404
    response = client.post("/contracts/new/", wizard_terms(hidden_customer))
    assert response.status_code == 400 and "terms-customer" in body(response)


# --- Role matrix ----------------------------------------------------------------------------------------------------
def test_viewer_reads_but_cannot_sign_create_or_request_changes(owner, viewer, csm_customer, staff_client_as):
    draft = make_contract(owner, csm_customer)
    active = make_contract(owner, csm_customer, sign=True, contract_name="Running")
    client = staff_client_as(viewer)
    assert client.get(LIST).status_code == 200
    page = body(client.get(f"/contracts/{draft.pk}/"))
    for hidden in ("sign-contract", "edit-contract", "request-change", "renew-contract", "terminate-form"):
        assert f'data-testid="{hidden}"' not in page
    assert 'data-testid="new-contract"' not in body(client.get(LIST))
    assert client.post(f"/contracts/{draft.pk}/sign/").status_code == 403
    assert client.get("/contracts/new/").status_code == 403
    assert client.get(f"/contracts/{active.pk}/changes/new/").status_code == 403
    assert client.get("/contracts/approvals/").status_code == 403
    assert client.post(f"/contracts/{active.pk}/terminate/", {"reason": "x"}).status_code == 403
    assert client.post(f"/contracts/{active.pk}/renew/").status_code == 403
    # Viewers do not see amounts.
    assert "120000" not in page and "120,000" not in page and "***" in page
    # Nothing was written.
    assert reload_contract(draft).status == ContractStatus.DRAFT
    assert reload_contract(active).status == ContractStatus.ACTIVE
    with tenant_scope(owner.tenant):
        assert not Contract.objects.filter(predecessor=active).exists()


def test_csm_creates_and_requests_changes_but_cannot_sign_or_approve(owner, teammate, csm_customer, staff_client_as):
    client = staff_client_as(teammate)
    assert client.get(f"/contracts/new/?customer={csm_customer.pk}").status_code == 200
    response = client.post("/contracts/new/", wizard_terms(csm_customer, step="1"))
    assert response.status_code == 200 and 'data-step="2"' in body(response)
    draft = make_contract(teammate, csm_customer)
    page = body(client.get(f"/contracts/{draft.pk}/"))
    assert 'data-testid="sign-contract"' not in page and 'data-testid="edit-contract"' in page
    assert client.post(f"/contracts/{draft.pk}/sign/").status_code == 403
    assert reload_contract(draft).status == ContractStatus.DRAFT

    active = make_contract(owner, csm_customer, sign=True, contract_name="Running")
    page = body(client.get(f"/contracts/{active.pk}/"))
    assert 'data-testid="request-change"' in page and 'data-testid="terminate-form"' not in page
    response = client.post(
        f"/contracts/{active.pk}/changes/new/", change_data(active, payment_terms="Net 60", reason="Budget cycle")
    )
    assert response.status_code == 302
    with tenant_scope(owner.tenant):
        change = ChangeRequest.objects.get(contract=active)
    assert change.changes == {"payment_terms": {"old": "", "new": "Net 60"}}
    assert client.get("/contracts/approvals/").status_code == 403
    assert client.post(f"/contracts/changes/{change.pk}/decide/", {"decision": "approve"}).status_code == 403
    with tenant_scope(owner.tenant):
        change.refresh_from_db()
    assert change.status == "pending" and reload_contract(active).payment_terms == ""


def test_finance_sees_amounts_and_csm_sees_stars_everywhere(owner, teammate, finance, csm_customer, staff_client_as):
    contract = make_contract(
        owner,
        csm_customer,
        sign=True,
        contract_amount=Decimal("98765.43"),
        end_date=today() + timedelta(days=40),
    )
    finance_client, csm_client = staff_client_as(finance), staff_client_as(teammate)
    for url in [LIST, f"/contracts/{contract.pk}/", "/contracts/renewals/?window=60"]:
        assert shows(body(finance_client.get(url)), "98765.43"), url
        page = body(csm_client.get(url))
        assert "98765" not in page and "98,765" not in page and "***" in page, url

    # The CSM may export (customers.export_customer) and gets *** in both CSVs.
    for url in ["/contracts/export/", "/contracts/renewals/export/?window=60"]:
        rows = csv_rows(csm_client.get(url))
        assert len(rows) == 2 and "***" in rows[1] and not any("98765" in cell for cell in rows[1]), url
    rows = csv_rows(staff_client_as(owner).get("/contracts/export/"))
    assert "98765.43" in rows[1]
    # Sorting by amount would leak the order: not offered without the permission.
    response = csm_client.get(LIST + "?sort=amount,desc")
    assert "warning" in message_levels(response)
    assert "?sort=amount" not in body(csm_client.get(LIST))


def test_export_link_needs_the_export_permission(owner, finance, csm_customer, staff_client_as):
    make_contract(owner, csm_customer)
    assert 'data-testid="export-csv"' in body(staff_client_as(owner).get(LIST))
    finance_client = staff_client_as(finance)
    assert 'data-testid="export-csv"' not in body(finance_client.get(LIST))
    assert finance_client.get("/contracts/export/").status_code == 403


def test_export_neutralises_formulas_and_keeps_the_filters(owner, csm_customer, staff_client_as):
    make_contract(owner, csm_customer, contract_name="=HYPERLINK(1)")
    make_contract(owner, csm_customer, contract_name="@SUM(A1)", contract_type=2)
    make_contract(owner, csm_customer, contract_name="Plain")
    client = staff_client_as(owner)
    rows = csv_rows(client.get("/contracts/export/?sort=name,asc"))
    names = [row[1] for row in rows[1:]]
    # Punctuation sorts differently per database collation: compare the contents, not the order.
    assert sorted(names) == sorted(["'=HYPERLINK(1)", "'@SUM(A1)", "Plain"])
    rows = csv_rows(client.get("/contracts/export/?contract_type=2"))
    assert [row[1] for row in rows[1:]] == ["'@SUM(A1)"]


# --- Lifecycle ------------------------------------------------------------------------------------------------------
def test_signing_activates_the_contract_and_makes_the_customer_formal(owner, lead, csm_customer, staff_client_as):
    assert csm_customer.status == CustomerStatus.POTENTIAL
    draft = make_contract(owner, csm_customer)
    client = staff_client_as(lead)
    response = client.post(f"/contracts/{draft.pk}/sign/", follow=True)
    assert response.status_code == 200
    assert reload_contract(draft).status == ContractStatus.ACTIVE
    assert reload(csm_customer).status == CustomerStatus.FORMAL
    assert 'data-status="2"' in body(response) and "success" in message_levels(response)


def test_an_illegal_transition_is_a_message_not_a_500(owner, lead, csm_customer, staff_client_as):
    active = make_contract(owner, csm_customer, sign=True)
    client = staff_client_as(lead)
    response = client.post(f"/contracts/{active.pk}/sign/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == f"/contracts/{active.pk}/"
    assert message_levels(response)[-1] == "error"
    assert "'active'" in message_texts(response)[-1]
    # Editing an active contract directly is refused the same way.
    response = client.get(f"/contracts/{active.pk}/edit/")
    assert response.status_code == 302 and message_levels(response)[-1] == "error"


def test_terminate_needs_a_reason_and_renew_creates_a_draft_successor(owner, lead, csm_customer, staff_client_as):
    active = make_contract(owner, csm_customer, sign=True)
    client = staff_client_as(lead)
    response = client.post(f"/contracts/{active.pk}/terminate/", {"reason": "  "})
    assert message_levels(response)[-1] == "error" and reload_contract(active).status == ContractStatus.ACTIVE
    page = body(client.get(f"/contracts/{active.pk}/"))
    assert 'data-testid="terminate-form"' in page and "data-confirm=" in page

    response = client.post(f"/contracts/{active.pk}/renew/")
    successor = reload_contract(active).successor
    assert successor.status == ContractStatus.DRAFT and response["Location"] == f"/contracts/{successor.pk}/"
    assert successor.start_date == active.end_date + timedelta(days=1)
    assert 'data-testid="renew-contract"' not in body(client.get(f"/contracts/{active.pk}/"))

    response = client.post(f"/contracts/{active.pk}/terminate/", {"reason": "Customer went bankrupt"})
    assert response.status_code == 302
    terminated = reload_contract(active)
    assert terminated.status == ContractStatus.TERMINATED and terminated.terminated_reason == "Customer went bankrupt"


def test_editing_a_draft_maps_service_errors_onto_fields(owner, lead, teammate, csm_customer, staff_client_as):
    draft = make_contract(owner, csm_customer)
    client = staff_client_as(lead)
    data = edit_data(draft, end_date=(draft.start_date - timedelta(days=1)).isoformat())
    response = client.post(f"/contracts/{draft.pk}/edit/", data)
    assert response.status_code == 400
    assert response.context["form"].errors["end_date"]
    response = client.post(f"/contracts/{draft.pk}/edit/", edit_data(draft, contract_amount="0"))
    assert response.status_code == 400 and response.context["form"].errors["contract_amount"]
    response = client.post(f"/contracts/{draft.pk}/edit/", edit_data(draft, contract_name="Renamed"))
    assert response.status_code == 302 and reload_contract(draft).contract_name == "Renamed"
    # A CSM edits the terms without ever seeing (or changing) the amount.
    csm_client = staff_client_as(teammate)
    page = body(csm_client.get(f"/contracts/{draft.pk}/edit/"))
    assert 'name="contract_amount"' not in page and "120000" not in page and "120,000" not in page
    data = edit_data(draft, contract_name="By the CSM")
    data.pop("contract_amount")
    assert csm_client.post(f"/contracts/{draft.pk}/edit/", data).status_code == 302
    stored = reload_contract(draft)
    assert stored.contract_name == "By the CSM" and stored.contract_amount == Decimal("120000.00")


# --- Change requests and versions -----------------------------------------------------------------------------------
def test_the_requester_cannot_approve_and_another_lead_applies_the_change(lead, lead2, csm_customer, staff_client_as):
    active = make_contract(lead, csm_customer, sign=True)
    requester = staff_client_as(lead)
    response = requester.post(
        f"/contracts/{active.pk}/changes/new/",
        change_data(active, contract_amount="150000.00", payment_terms="Net 30", reason="Scope grows"),
    )
    assert response.status_code == 302
    with tenant_scope(lead.tenant):
        change = ChangeRequest.objects.get(contract=active)

    queue = body(requester.get("/contracts/approvals/"))
    assert 'data-testid="pending-change"' in queue and 'data-testid="own-request"' in queue
    response = requester.post(f"/contracts/changes/{change.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 302 and message_levels(response)[-1] == "error"
    with tenant_scope(lead.tenant):
        assert ChangeRequest.objects.get(pk=change.pk).status == ChangeStatus.PENDING

    approver = staff_client_as(lead2)
    assert 'data-testid="own-request"' not in body(approver.get("/contracts/approvals/"))
    response = approver.post(
        f"/contracts/changes/{change.pk}/decide/", {"decision": "approve", "next": f"/contracts/{active.pk}/"}
    )
    assert response.status_code == 302 and response["Location"] == f"/contracts/{active.pk}/"
    updated = reload_contract(active)
    assert updated.version == 2 and updated.contract_amount == Decimal("150000.00")

    page = body(approver.get(f"/contracts/{active.pk}/"))
    assert page.count('data-testid="version-row"') == 2 and f"/contracts/{active.pk}/versions/2/diff/" in page
    diff = approver.get(f"/contracts/{active.pk}/versions/2/diff/")
    assert diff.status_code == 200
    diff_page = body(diff)
    assert "120000.00" in diff_page and "150000.00" in diff_page and "Net 30" in diff_page
    partial = approver.get(f"/contracts/{active.pk}/versions/2/diff/", headers=HTMX)
    assert "<html" not in body(partial) and 'data-testid="version-diff"' in body(partial)
    assert approver.get(f"/contracts/{active.pk}/versions/1/diff/").status_code == 404
    assert approver.get(f"/contracts/{active.pk}/versions/9/diff/").status_code == 404
    assert "No change is waiting" in body(approver.get("/contracts/approvals/", HTTP_ACCEPT_LANGUAGE="en"))


def test_a_csm_sees_the_amount_diff_masked(lead, lead2, teammate, csm_customer, staff_client_as):
    active = make_contract(lead, csm_customer, sign=True)
    with tenant_scope(lead.tenant):
        change = services.change_request_create(
            actor=lead, contract=active, changes={"contract_amount": Decimal("130000")}, reason="More nodes"
        )
        services.change_request_approve(actor=lead2, change=change)
    client = staff_client_as(teammate)
    for url in [f"/contracts/{active.pk}/", f"/contracts/{active.pk}/versions/2/diff/"]:
        page = body(client.get(url))
        assert not any(n in page for n in ("130000", "130,000", "120000", "120,000")) and "***" in page, url
    # The CSM's change form has no amount field.
    assert 'name="contract_amount"' not in body(client.get(f"/contracts/{active.pk}/changes/new/"))


def test_rejecting_needs_a_note(lead, lead2, csm_customer, staff_client_as):
    active = make_contract(lead, csm_customer, sign=True)
    with tenant_scope(lead.tenant):
        change = services.change_request_create(
            actor=lead, contract=active, changes={"service_level": "Gold"}, reason="Upgrade"
        )
    client = staff_client_as(lead2)
    response = client.post(f"/contracts/changes/{change.pk}/decide/", {"decision": "reject", "note": ""})
    assert message_levels(response)[-1] == "error"
    response = client.post(f"/contracts/changes/{change.pk}/decide/", {"decision": "reject", "note": "Not now"})
    assert message_levels(response)[-1] == "success"
    with tenant_scope(lead.tenant):
        assert ChangeRequest.objects.get(pk=change.pk).status == ChangeStatus.REJECTED
    page = body(client.get(f"/contracts/{active.pk}/"))
    assert 'data-status="rejected"' in page and "Not now" in page
    # Deciding twice is a message too.
    response = client.post(f"/contracts/changes/{change.pk}/decide/", {"decision": "approve"})
    assert message_levels(response)[-1] == "error"


def test_a_change_request_without_changes_is_a_form_error(lead, csm_customer, staff_client_as):
    active = make_contract(lead, csm_customer, sign=True)
    response = staff_client_as(lead).post(f"/contracts/{active.pk}/changes/new/", change_data(active, reason="Nothing"))
    assert response.status_code == 400 and response.context["form"].non_field_errors()
    draft = make_contract(lead, csm_customer)
    response = staff_client_as(lead).get(f"/contracts/{draft.pk}/changes/new/")
    assert response.status_code == 302 and message_levels(response)[-1] == "error"


# --- Renewal pipeline -----------------------------------------------------------------------------------------------
def test_renewal_windows(owner, csm_customer, staff_client_as):
    soon = make_contract(owner, csm_customer, sign=True, contract_name="Ends in 45", end_date=today() + timedelta(45))
    near = make_contract(owner, csm_customer, sign=True, contract_name="Ends in 10", end_date=today() + timedelta(10))
    far = make_contract(owner, csm_customer, sign=True, contract_name="Ends in 150", end_date=today() + timedelta(150))
    draft = make_contract(owner, csm_customer, contract_name="Draft 20", end_date=today() + timedelta(20))
    client = staff_client_as(owner)

    def codes(window):
        response = client.get(f"/contracts/renewals/?window={window}")
        return {row for row in (soon, near, far, draft) if f'data-contract="{row.contract_code}"' in body(response)}

    assert codes(30) == {near}
    assert codes(60) == {near, soon}
    assert codes(90) == {near, soon}
    assert codes(180) == {near, soon, far}
    page = body(client.get("/contracts/renewals/?window=60&sort=end_date,desc"))
    assert page.index(soon.contract_code) < page.index(near.contract_code)
    assert body(client.get("/contracts/renewals/?window=60", headers=HTMX)).count("<html") == 0


def test_renewal_pipeline_shows_probability_reasons_and_sorts_by_it(owner, lead, csm_customer, staff_client_as):
    auto = make_contract(
        owner, csm_customer, sign=True, contract_name="Auto", end_date=today() + timedelta(20), renewal_type=2
    )
    manual = make_contract(owner, csm_customer, sign=True, contract_name="Manual", end_date=today() + timedelta(10))
    client = staff_client_as(lead)
    page = body(client.get("/contracts/renewals/?window=30&sort=probability,desc", HTTP_ACCEPT_LANGUAGE="en"))
    assert page.index(auto.contract_code) < page.index(manual.contract_code)
    assert 'title="automatic renewal"' in page and "70%" in page
    rows = csv_rows(client.get("/contracts/renewals/export/?window=30&sort=probability,asc"))
    assert [row[1] for row in rows[1:]] == [manual.contract_code, auto.contract_code]


def test_renewal_pipeline_query_count_is_constant(owner, csm_customer, staff_client_as):
    client = staff_client_as(owner)

    def add(count):
        for index in range(count):
            customer = make_customer(owner, customer_name=f"Pipeline {count}-{index}")
            contract = make_contract(owner, customer, sign=True, end_date=today() + timedelta(20 + index))
            with tenant_scope(owner.tenant):
                services.invoice_upsert(
                    actor=owner,
                    contract=contract,
                    data={
                        "invoice_number": f"INV-{count}-{index}",
                        "amount": Decimal("10"),
                        "issue_date": today(),
                        "due_date": today() + timedelta(30),
                    },
                )

    add(3)
    client.get("/contracts/renewals/?window=60")
    with query_budget(40) as small:
        client.get("/contracts/renewals/?window=60")
    add(12)
    with query_budget(40) as big:
        response = client.get("/contracts/renewals/?window=60")
    assert body(response).count('data-testid="renewal-row"') == 15
    assert len(big.captured_queries) == len(small.captured_queries)


# --- Milestones, SLA, invoices, documents ---------------------------------------------------------------------------
def test_overdue_milestones_are_highlighted(owner, lead, csm_customer, staff_client_as):
    contract = make_contract(owner, csm_customer, sign=True)
    with tenant_scope(owner.tenant):
        late = services.milestone_save(
            actor=owner, contract=contract, data={"title": "Kick-off workshop", "due_date": today() - timedelta(3)}
        )
        services.milestone_save(
            actor=owner, contract=contract, data={"title": "Quarterly review", "due_date": today() + timedelta(30)}
        )
        services.milestone_save(
            actor=owner,
            contract=contract,
            data={"title": "Handover", "due_date": today() - timedelta(10), "status": "done"},
        )
    client = staff_client_as(lead)
    page = body(client.get(f"/contracts/{contract.pk}/"))
    assert page.count('data-overdue="true"') == 1 and page.count('data-testid="overdue-badge"') == 1
    overdue_row = page.split('data-overdue="true"')[1].split("</tr>")[0]
    assert "Kick-off workshop" in overdue_row and "text-danger" in overdue_row

    response = client.post(f"/contracts/{contract.pk}/milestones/{late.pk}/done/")
    assert response.status_code == 302
    assert 'data-overdue="true"' not in body(client.get(f"/contracts/{contract.pk}/"))


def test_milestone_and_sla_forms_save_through_the_services(owner, lead, csm_customer, staff_client_as):
    contract = make_contract(owner, csm_customer, sign=True)
    client = staff_client_as(lead)
    response = client.post(
        f"/contracts/{contract.pk}/milestones/",
        {
            "milestone-title": "Go-live",
            "milestone-due_date": (today() + timedelta(9)).isoformat(),
            "milestone-status": "pending",
        },
    )
    assert response.status_code == 302
    response = client.post(
        f"/contracts/{contract.pk}/milestones/", {"milestone-title": "", "milestone-status": "pending"}
    )
    assert response.status_code == 400 and response.context["milestone_form"].errors["title"]

    data = sla_data(P1=(15, 240), P2=(60, 480))
    assert client.post(f"/contracts/{contract.pk}/sla/", data).status_code == 302
    with tenant_scope(owner.tenant):
        bindings = {b.priority: b for b in ContractSlaBinding.objects.filter(contract=contract)}
        assert set(bindings) == {"P1", "P2"} and bindings["P1"].resolution_minutes == 240
        assert [m.title for m in Milestone.objects.filter(contract=contract)] == ["Go-live"]
    # Resolution faster than the first response: the service's error lands on that priority's field.
    response = client.post(f"/contracts/{contract.pk}/sla/", sla_data(P3=(120, 60)))
    assert response.status_code == 400 and response.context["sla_form"].errors["P3_resolution_minutes"]
    response = client.post(f"/contracts/{contract.pk}/sla/", sla_data(P4=(30, None)))
    assert response.status_code == 400 and response.context["sla_form"].errors["P4_resolution_minutes"]


def test_invoices_and_payments_are_for_finance(owner, finance, teammate, csm_customer, staff_client_as):
    contract = make_contract(owner, csm_customer, sign=True)
    csm_client = staff_client_as(teammate)
    assert 'data-testid="invoice-form"' not in body(csm_client.get(f"/contracts/{contract.pk}/"))
    assert csm_client.post(f"/contracts/{contract.pk}/invoices/", {}).status_code == 403

    client = staff_client_as(finance)
    invoice = {
        "invoice-invoice_number": "INV-001",
        "invoice-amount": "5000.00",
        "invoice-issue_date": today().isoformat(),
        "invoice-due_date": (today() + timedelta(30)).isoformat(),
        "invoice-status": "issued",
    }
    assert client.post(f"/contracts/{contract.pk}/invoices/", invoice).status_code == 302
    response = client.post(f"/contracts/{contract.pk}/invoices/", invoice)
    assert response.status_code == 400 and response.context["invoice_form"].errors["invoice_number"]
    with tenant_scope(owner.tenant):
        stored = contract.invoices.get()
    payment = {
        "payment-invoice_id": str(stored.pk),
        "payment-amount": "5000.00",
        "payment-paid_date": today().isoformat(),
        "payment-method": "Bank transfer",
    }
    assert client.post(f"/contracts/{contract.pk}/payments/", payment).status_code == 302
    with tenant_scope(owner.tenant):
        assert contract.invoices.get().status == "paid"
    page = body(client.get(f"/contracts/{contract.pk}/"))
    assert "INV-001" in page and shows(page, "5000.00") and 'data-testid="payment-row"' in page
    csm_page = body(csm_client.get(f"/contracts/{contract.pk}/"))
    assert "INV-001" in csm_page and "5000" not in csm_page and "5,000" not in csm_page


def test_documents_are_generated_and_downloaded_through_the_documents_module(
    owner, lead, csm_customer, staff_client_as, fake_documents
):
    contract = make_contract(owner, csm_customer)
    with tenant_scope(owner.tenant):
        template = ContractTemplate.objects.create(name="Standard", body="{{ customer.customer_name }}")
    client = staff_client_as(lead)
    page = body(client.get(f"/contracts/{contract.pk}/"))
    assert 'data-testid="generate-form"' in page and 'data-testid="download-html"' not in page
    response = client.post(f"/contracts/{contract.pk}/generate/", {"template": template.pk})
    assert response.status_code == 302 and fake_documents == [("generate", contract.pk, template.pk, lead.pk)]
    assert 'data-testid="download-html"' in body(client.get(f"/contracts/{contract.pk}/"))
    response = client.get(f"/contracts/{contract.pk}/document/?format=html")
    assert response.status_code == 200 and body(response) == f"html:{contract.contract_code}"
    assert client.get(f"/contracts/{contract.pk}/document/?format=docx").status_code == 404
    viewer_client = staff_client_as(staff_user(owner, "viewer"))
    assert viewer_client.post(f"/contracts/{contract.pk}/generate/", {"template": template.pk}).status_code == 403


def test_the_real_documents_module_generates_and_serves_the_document(
    owner, lead, csm_customer, staff_client_as, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    contract = make_contract(owner, csm_customer, sign=True)
    with tenant_scope(owner.tenant):
        template = ContractTemplate.objects.create(name="Standard", body="Agreement with {{ customer.customer_name }}")
    client = staff_client_as(lead)
    response = client.post(f"/contracts/{contract.pk}/generate/", {"template": template.pk})
    assert response.status_code == 302 and message_levels(response)[-1] == "success"
    page = body(client.get(f"/contracts/{contract.pk}/"))
    assert 'data-testid="download-pdf"' in page and 'data-testid="download-html"' in page
    html = client.get(f"/contracts/{contract.pk}/document/?format=html")
    assert html.status_code == 200 and "Acme Cloud Ltd" in body(html)
    pdf = client.get(f"/contracts/{contract.pk}/document/?format=pdf&download=1")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    # A broken template is a message, not a 500.
    with tenant_scope(owner.tenant):
        broken = ContractTemplate.objects.create(name="Broken", body="{% if %}")
    response = client.post(f"/contracts/{contract.pk}/generate/", {"template": broken.pk})
    assert response.status_code == 302 and message_levels(response)[-1] == "error"


# --- Wizard ---------------------------------------------------------------------------------------------------------
def test_the_wizard_creates_contract_sla_and_document_in_one_go(
    owner, lead, csm_customer, staff_client_as, fake_documents
):
    with tenant_scope(owner.tenant):
        policy = SlaPolicy.objects.create(
            name="Gold",
            service_hours="business",
            availability_target=Decimal("99.950"),
            targets={
                "P1": {"first_response_minutes": 15, "resolution_minutes": 240},
                "P2": {"first_response_minutes": 30, "resolution_minutes": 480},
            },
        )
        template = ContractTemplate.objects.create(name="Standard", body="x")
    client = staff_client_as(lead)
    step1 = wizard_terms(csm_customer, step="1", sla_policy=policy.pk, template=template.pk)
    response = client.post("/contracts/new/", step1)
    assert response.status_code == 200 and 'data-step="2"' in body(response)
    sla_form = response.context["sla_form"]
    assert sla_form["P1_first_response_minutes"].value() == 15 and sla_form["service_hours"].value() == "business"
    with tenant_scope(owner.tenant):
        assert not Contract.objects.filter(customer=csm_customer).exists()  # the dry run left nothing behind

    final = {**step1, "step": "2", **sla_data(P1=(15, 240), P2=(30, 480), P3=(120, 1440), hours="business")}
    response = client.post("/contracts/new/", final)
    assert response.status_code == 302
    with tenant_scope(owner.tenant):
        contract = Contract.objects.get(customer=csm_customer)
        bindings = {b.priority: b for b in contract.sla_bindings.all()}
    assert response["Location"] == f"/contracts/{contract.pk}/"
    assert contract.status == ContractStatus.DRAFT and contract.contract_name == "Platform operations"
    assert set(bindings) == {"P1", "P2", "P3"} and bindings["P3"].resolution_minutes == 1440
    assert bindings["P1"].policy_id == policy.pk and bindings["P1"].service_hours == "business"
    assert fake_documents == [("generate", contract.pk, template.pk, lead.pk)]


def test_the_wizard_shows_service_rule_errors_on_the_fields(lead, csm_customer, staff_client_as):
    client = staff_client_as(lead)
    response = client.post(
        "/contracts/new/",
        wizard_terms(csm_customer, step="1", end_date=(today() - timedelta(days=400)).isoformat()),
    )
    assert response.status_code == 400 and 'data-step="1"' in body(response)
    assert response.context["form"].errors["end_date"]
    response = client.post("/contracts/new/", wizard_terms(csm_customer, step="1", contract_amount="0"))
    assert response.status_code == 400 and response.context["form"].errors["contract_amount"]
    # Step 2 with a bad SLA row: nothing is created, the row shows the error.
    final = {**wizard_terms(csm_customer, step="2"), **sla_data(P1=(60, 30))}
    response = client.post("/contracts/new/", final)
    assert response.status_code == 400 and response.context["sla_form"].errors["P1_resolution_minutes"]
    with tenant_scope(lead.tenant):
        assert not Contract.objects.filter(customer=csm_customer).exists()
    # Back keeps the values.
    response = client.post("/contracts/new/", wizard_terms(csm_customer, step="back"))
    assert 'data-step="1"' in body(response) and 'value="Platform operations"' in body(response)


# --- List -----------------------------------------------------------------------------------------------------------
def test_list_filters_sort_and_htmx_partial(owner, csm_customer, hidden_customer, staff_client_as):
    first = make_contract(owner, csm_customer, contract_name="Alpha ops", end_date=today() + timedelta(100))
    second = make_contract(
        owner, hidden_customer, sign=True, contract_name="Beta ops", end_date=today() + timedelta(20)
    )
    client = staff_client_as(owner)
    page = body(client.get(LIST + "?status=2"))
    assert second.contract_code in page and first.contract_code not in page
    page = body(client.get(LIST + "?q=harbour"))
    assert second.contract_code in page and first.contract_code not in page
    page = body(client.get(LIST + f"?customer={csm_customer.pk}"))
    assert first.contract_code in page and second.contract_code not in page
    page = body(client.get(LIST + f"?end_to={(today() + timedelta(30)).isoformat()}"))
    assert second.contract_code in page and first.contract_code not in page
    page = body(client.get(LIST + "?sort=end_date,asc"))
    assert page.index(second.contract_code) < page.index(first.contract_code)
    partial = client.get(LIST + "?status=1", headers=HTMX)
    assert "<html" not in body(partial) and 'data-testid="contract-table"' in body(partial)
    assert "status=1" in body(partial)  # the export link keeps the filter
    response = client.get(LIST + "?status=9")
    assert response.status_code == 200 and 'data-testid="contract-row"' not in body(response)


def test_list_query_count_is_constant(owner, teammate, csm_customer, staff_client_as):
    def add(count):
        for index in range(count):
            customer = make_customer(owner, customer_name=f"Customer {count}-{index}", assigned_manager=teammate)
            make_contract(owner, customer, sign=index % 2 == 0)

    add(5)
    budgets = {}
    for user in (owner, teammate):
        client = staff_client_as(user)
        client.get(LIST)
        with query_budget(30) as ctx:
            response = client.get(LIST)
        assert body(response).count('data-testid="contract-row"') == 5
        budgets[user.pk] = len(ctx.captured_queries)
    add(20)
    for user in (owner, teammate):
        client = staff_client_as(user)
        client.get(LIST)
        with query_budget(30) as ctx:
            response = client.get(LIST)
        assert body(response).count('data-testid="contract-row"') == 25
        assert len(ctx.captured_queries) == budgets[user.pk], user


# --- Customer page tab ----------------------------------------------------------------------------------------------
def test_customer_contracts_tab(owner, teammate, csm_customer, hidden_customer, staff_client_as):
    # The tab exists because contracts registered it from its own ready(): customers imports nothing of contracts.
    contract = make_contract(owner, csm_customer, sign=True, contract_amount=Decimal("4321.00"))
    make_contract(owner, hidden_customer, contract_name="Other customer's")
    owner_page = body(staff_client_as(owner).get(f"/customers/{csm_customer.pk}/?tab=contracts"))
    assert owner_page.count('data-testid="customer-contract-row"') == 1 and shows(owner_page, "4321.00")
    assert f"/contracts/new/?customer={csm_customer.pk}" in owner_page
    csm_page = body(staff_client_as(teammate).get(f"/customers/{csm_customer.pk}/?tab=contracts", headers=HTMX))
    assert (
        contract.contract_code in csm_page and "4321" not in csm_page and "4,321" not in csm_page and "***" in csm_page
    )


# --- Form data helpers ----------------------------------------------------------------------------------------------
def staff_user(owner, role):
    from accounts.tests.factories import UserFactory

    return UserFactory(tenant=owner.tenant, role=role)


def wizard_terms(customer: Customer, *, step: str = "1", **overrides) -> dict[str, str]:
    data = {
        "step": step,
        "terms-customer": str(customer.pk),
        "terms-template": "",
        "terms-sla_policy": "",
        "terms-contract_name": "Platform operations",
        "terms-contract_type": "1",
        "terms-contract_amount": "88000.00",
        "terms-currency": "CNY",
        "terms-start_date": today().isoformat(),
        "terms-end_date": (today() + timedelta(days=364)).isoformat(),
        "terms-renewal_type": "1",
        "terms-renewal_notice_days": "60",
        "terms-payment_terms": "Quarterly",
        "terms-service_level": "",
    }
    data.update({f"terms-{key}": str(value) for key, value in overrides.items()})
    return data


def sla_data(hours: str = "7x24", **rows) -> dict[str, str]:
    data = {"sla-service_hours": hours, "sla-availability_target": "99.9"}
    for priority, (first, resolution) in rows.items():
        data[f"sla-{priority}_first_response_minutes"] = "" if first is None else str(first)
        data[f"sla-{priority}_resolution_minutes"] = "" if resolution is None else str(resolution)
    return data


def _term(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def edit_data(contract: Contract, **overrides) -> dict[str, str]:
    names = [
        "contract_name",
        "contract_type",
        "contract_amount",
        "currency",
        "start_date",
        "end_date",
        "renewal_type",
        "renewal_notice_days",
        "payment_terms",
        "service_level",
    ]
    data = {name: _term(getattr(contract, name)) for name in names}
    data.update({key: str(value) for key, value in overrides.items()})
    return data


def change_data(contract: Contract, **overrides) -> dict[str, str]:
    names = [
        "contract_name",
        "contract_amount",
        "currency",
        "end_date",
        "renewal_type",
        "renewal_notice_days",
        "payment_terms",
        "service_level",
    ]
    data = {name: _term(getattr(contract, name)) for name in names}
    data.update({key: str(value) for key, value in overrides.items()})
    return data


def test_merge_moves_the_duplicates_contracts_to_the_survivor(owner, csm_customer, staff_client_as):
    from customers import services as customer_services

    duplicate = make_customer(owner, customer_name="Dup Co")
    contract = make_contract(owner, duplicate, sign=True)
    with tenant_scope(owner.tenant):
        customer_services.customer_merge(actor=owner, survivor=csm_customer, duplicate=duplicate)
        contract.refresh_from_db()
        csm_customer.refresh_from_db()
    assert contract.customer_id == csm_customer.pk
    assert csm_customer.next_renewal_date == contract.end_date
    page = body(staff_client_as(owner).get(f"/customers/{csm_customer.pk}/?tab=contracts"))
    assert contract.contract_code in page
    timeline = body(staff_client_as(owner).get(f"/customers/{csm_customer.pk}/?tab=timeline"))
    assert "Contract moved to another customer" in timeline and "Customers merged" in timeline
