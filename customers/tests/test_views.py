"""Staff pages for customers: isolation, roles, list filters/sort/bulk, create/edit with contacts, 360° page,
tags, sharing, duplicates and merge, admin, and query budgets."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from crm_project.testing import assert_isolated, assert_page_not_found, query_budget
from customers.choices import CustomerStatus
from customers.forms import CustomerForm, contact_formset_class
from customers.models import Customer, CustomerContact, CustomerTag
from customers.tests.factories import make_contact, make_customer, make_tag, reload, share
from customers.views import LIST_SESSION_KEY, apply_service_errors

pytestmark = pytest.mark.django_db

LIST = "/customers/"
HTMX = {"HX-Request": "true"}


# --- Fixtures and helpers -------------------------------------------------------------------------------------------
@pytest.fixture
def lead(make_user):
    return make_user(role="cs_lead", username="lead")


@pytest.fixture
def viewer(make_user):
    return make_user(role="viewer", username="viewer")


@pytest.fixture
def csm_customer(owner, teammate):
    """A customer managed by the CSM `teammate`, with a contact and a tag."""
    return make_customer(
        owner,
        customer_name="Acme Cloud Ltd",
        assigned_manager=teammate,
        contacts=[{"contact_name": "Zhang Wei", "email": "zhang@acme.example", "is_primary": True}],
        tags=["key-account"],
    )


@pytest.fixture
def unassigned_customer(owner):
    """A customer the CSM `teammate` neither manages nor was shared."""
    return make_customer(
        owner,
        customer_name="Hidden Harbour Co",
        contacts=[{"contact_name": "Li Na", "mobile": "13800138000"}],
        tags=["pilot"],
    )


def tag_of(customer: Customer, name: str) -> CustomerTag:
    with tenant_scope(customer.tenant):
        return CustomerTag.objects.get(customer=customer, tag_name=name)


def contacts_of(customer: Customer) -> list[CustomerContact]:
    with tenant_scope(customer.tenant):
        return list(CustomerContact.objects.filter(customer=customer).order_by("id"))


def customer_form_data(contacts=(), *, existing=(), **fields) -> dict:
    """POST data of the create/edit form; `existing` are contacts already stored (edit), `contacts` new rows."""
    data = {
        "customer_name": "New Horizon Tech",
        "customer_type": "1",
        "status": "1",
        "level": "1",
        **{key: str(value) for key, value in fields.items()},
    }
    rows = [*existing, *contacts]
    data.update(
        {
            "contacts-TOTAL_FORMS": str(max(len(rows), 1)),
            "contacts-INITIAL_FORMS": str(len(existing)),
            "contacts-MIN_NUM_FORMS": "0",
            "contacts-MAX_NUM_FORMS": "50",
        }
    )
    if not rows:
        data["contacts-0-influence_level"] = "1"
    for index, row in enumerate(rows):
        row = {"influence_level": 1, **row}
        for key, value in row.items():
            if isinstance(value, bool):
                if value:
                    data[f"contacts-{index}-{key}"] = "on"
            else:
                data[f"contacts-{index}-{key}"] = str(value)
    return data


def existing_row(contact: CustomerContact, **changes) -> dict:
    row = {
        "contact_id": contact.pk,
        "contact_name": contact.contact_name,
        "position": contact.position,
        "mobile": contact.mobile,
        "email": contact.email,
        "is_primary": contact.is_primary,
        "is_decision_maker": contact.is_decision_maker,
        "influence_level": contact.influence_level,
    }
    row.update(changes)
    return row


def body(response) -> str:
    return response.content.decode()


def row_names(response) -> list[str]:
    """Customer names of the list rows, in order."""
    return re.findall(r'<a class="strong" href="/customers/\d+/">([^<]+)</a>', body(response))


# --- Isolation ------------------------------------------------------------------------------------------------------
def customer_urls(customer: Customer, other: Customer) -> dict[str, tuple[str, str]]:
    with tenant_scope(customer.tenant):
        tag_pk = CustomerTag.objects.filter(customer=customer).values_list("pk", flat=True).first()
    pk = customer.pk
    return {
        "detail": ("get", f"/customers/{pk}/"),
        "detail-tab": ("get", f"/customers/{pk}/?tab=timeline"),
        "edit": ("get", f"/customers/{pk}/edit/"),
        "edit-post": ("post", f"/customers/{pk}/edit/"),
        "duplicates": ("get", f"/customers/{pk}/duplicates/"),
        "merge": ("get", f"/customers/{pk}/merge/{other.pk}/"),
        "merge-reverse": ("get", f"/customers/{other.pk}/merge/{pk}/"),
        "tag-add": ("post", f"/customers/{pk}/tags/"),
        "tag-remove": ("post", f"/customers/{pk}/tags/{tag_pk}/remove/"),
        "share": ("post", f"/customers/{pk}/share/"),
        "delete": ("post", f"/customers/{pk}/delete/"),
    }


def test_every_customer_page_is_404_for_another_tenant(owner, outsider, staff_client_as, csm_customer):
    other = make_customer(owner, customer_name="Second Customer")
    owner_client, outsider_client = staff_client_as(owner), staff_client_as(outsider)
    for method, url in customer_urls(csm_customer, other).values():
        if method == "get":
            assert_isolated(url=url, owner_client=owner_client, outsider_client=outsider_client, api=False)
        else:
            assert_page_not_found(outsider_client, url, methods=("post",))
    assert csm_customer.customer_name not in body(outsider_client.get(LIST + "?reset=1", follow=True))
    # Nothing happened through the outsider's posts.
    assert reload(csm_customer).deleted_at is None


def test_a_merge_partner_from_another_tenant_is_404(owner, outsider, staff_client_as, csm_customer):
    foreign = make_customer(outsider, customer_name="Foreign Ltd")
    client = staff_client_as(owner)
    assert_page_not_found(client, f"/customers/{csm_customer.pk}/merge/{foreign.pk}/", methods=("get", "post"))


def test_csm_gets_404_for_customers_neither_assigned_nor_shared_then_200_after_share(
    owner, teammate, staff_client_as, unassigned_customer
):
    other = make_customer(owner, customer_name="Third Customer")
    client = staff_client_as(teammate)
    urls = customer_urls(unassigned_customer, other)
    # The CSM holds view/change permissions, so these answer 404 (not 403): the customer is invisible.
    for name in ("detail", "detail-tab", "edit", "edit-post", "duplicates", "tag-add", "tag-remove"):
        method, url = urls[name]
        assert_page_not_found(client, url, methods=(method,))
    assert "Hidden Harbour Co" not in body(client.get(LIST))

    share(owner, unassigned_customer, teammate)
    for name in ("detail", "detail-tab", "edit", "duplicates"):
        assert client.get(urls[name][1]).status_code == 200, name
    assert "Hidden Harbour Co" in body(client.get(LIST))


def test_missing_and_deleted_customers_are_404(owner, staff_client_as, csm_customer):
    client = staff_client_as(owner)
    assert_page_not_found(client, "/customers/999999/")
    client.post(f"/customers/{csm_customer.pk}/delete/")
    assert_page_not_found(client, f"/customers/{csm_customer.pk}/")
    assert_page_not_found(client, f"/customers/{csm_customer.pk}/edit/")


def test_anonymous_users_are_sent_to_sign_in(client, csm_customer):
    response = client.get(f"/customers/{csm_customer.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Roles ----------------------------------------------------------------------------------------------------------
def test_viewer_reads_but_cannot_write(viewer, staff_client_as, csm_customer):
    client = staff_client_as(viewer)
    list_page = client.get(LIST)
    assert list_page.status_code == 200
    assert 'data-testid="new-customer"' not in body(list_page)
    assert 'id="bulk-form"' not in body(list_page)
    detail = client.get(f"/customers/{csm_customer.pk}/")
    assert detail.status_code == 200
    for hidden in ("edit-customer", "delete-customer", "share-customer", "tag-add-form"):
        assert f'data-testid="{hidden}"' not in body(detail)
    assert client.get(f"/customers/{csm_customer.pk}/?tab=tags").status_code == 200
    assert 'data-testid="tag-add-form"' not in body(client.get(f"/customers/{csm_customer.pk}/?tab=tags"))

    assert client.get("/customers/new/").status_code == 403
    assert client.post("/customers/new/", customer_form_data()).status_code == 403
    assert client.get(f"/customers/{csm_customer.pk}/edit/").status_code == 403
    assert client.post(f"/customers/{csm_customer.pk}/delete/").status_code == 403
    assert client.post(f"/customers/{csm_customer.pk}/tags/", {"tag_name": "x"}).status_code == 403
    assert (
        client.post("/customers/bulk/", {"ids": [csm_customer.pk], "action": "tag", "tag_name": "x"}).status_code == 403
    )
    assert reload(csm_customer).deleted_at is None


def test_csm_can_edit_own_customer_but_not_delete_share_or_assign(teammate, lead, staff_client_as, csm_customer):
    client = staff_client_as(teammate)
    detail = body(client.get(f"/customers/{csm_customer.pk}/"))
    assert 'data-testid="edit-customer"' in detail
    assert 'data-testid="delete-customer"' not in detail and 'data-testid="share-panel"' not in detail
    assert client.get(f"/customers/{csm_customer.pk}/edit/").status_code == 200
    assert client.post(f"/customers/{csm_customer.pk}/delete/").status_code == 403
    assert client.post(f"/customers/{csm_customer.pk}/share/", {"action": "share", "user": lead.pk}).status_code == 403
    response = client.post("/customers/bulk/", {"ids": [csm_customer.pk], "action": "assign", "manager": lead.pk})
    assert response.status_code == 403
    assert client.get(f"/customers/{csm_customer.pk}/merge/{csm_customer.pk}/").status_code == 403
    # The edit form has no manager field for a CSM.
    assert 'name="assigned_manager"' not in body(client.get(f"/customers/{csm_customer.pk}/edit/"))
    assert reload(csm_customer).assigned_manager_id == teammate.pk


def test_lead_can_delete_share_and_assign(lead, teammate, staff_client_as, unassigned_customer):
    client = staff_client_as(lead)
    detail = body(client.get(f"/customers/{unassigned_customer.pk}/"))
    for visible in ("edit-customer", "delete-customer", "share-customer", "share-panel"):
        assert f'data-testid="{visible}"' in detail
    response = client.post(
        "/customers/bulk/", {"ids": [unassigned_customer.pk], "action": "assign", "manager": teammate.pk}
    )
    assert response.status_code == 302
    assert reload(unassigned_customer).assigned_manager_id == teammate.pk
    assert client.post(f"/customers/{unassigned_customer.pk}/delete/").status_code == 302
    assert reload(unassigned_customer).deleted_at is not None


# --- List: filters, sort, session, bulk -----------------------------------------------------------------------------
@pytest.fixture
def listed(owner, teammate):
    return {
        "alpha": make_customer(
            owner,
            customer_name="Alpha Systems",
            status=CustomerStatus.FORMAL,
            contacts=[{"contact_name": "Wang Fang"}],
            tags=["renewal"],
        ),
        "beta": make_customer(owner, customer_name="Beta Retail", status=CustomerStatus.POTENTIAL, tags=["pilot"]),
        "gamma": make_customer(
            owner, customer_name="Gamma Energy", status=CustomerStatus.FORMAL, contacts=[{"contact_name": "Zhou Min"}]
        ),
    }


def test_list_filters_by_status_contact_name_and_tag(owner, staff_client_as, listed):
    client = staff_client_as(owner)
    assert sorted(row_names(client.get(LIST + "?status=2"))) == ["Alpha Systems", "Gamma Energy"]
    assert row_names(client.get(LIST + "?q=zhou")) == ["Gamma Energy"]
    assert row_names(client.get(LIST + "?q=beta")) == ["Beta Retail"]
    assert row_names(client.get(LIST + "?tag=pilot")) == ["Beta Retail"]
    assert row_names(client.get(LIST + "?tag=renewal&status=2")) == ["Alpha Systems"]
    empty = client.get(LIST + "?q=nothing-matches")
    assert 'data-testid="empty-state"' in body(empty) and row_names(empty) == []


def test_list_rows_show_badges_manager_and_tags(owner, teammate, staff_client_as):
    make_customer(owner, customer_name="Shown Co", assigned_manager=teammate, level=3, tags=["a-tag", "b-tag"])
    page = body(staff_client_as(owner).get(LIST))
    assert 'data-testid="level-badge"' in page and 'data-testid="status-badge"' in page
    assert 'data-testid="health-badge"' in page
    assert teammate.get_display_name() in page
    assert '<span class="chip">a-tag</span>' in page and '<span class="chip">b-tag</span>' in page


def test_invalid_filter_value_shows_an_error_not_a_500(owner, staff_client_as, listed):
    response = staff_client_as(owner).get(LIST + "?status=9")
    assert response.status_code == 200
    assert "field-error" in body(response) and row_names(response) == []


def test_list_sorts_by_whitelisted_columns(owner, staff_client_as, listed):
    client = staff_client_as(owner)
    assert row_names(client.get(LIST + "?sort=customer_name,asc")) == ["Alpha Systems", "Beta Retail", "Gamma Energy"]
    assert row_names(client.get(LIST + "?sort=customer_name,desc")) == ["Gamma Energy", "Beta Retail", "Alpha Systems"]
    page = body(client.get(LIST + "?sort=customer_name,asc"))
    assert 'aria-sort="ascending"' in page


def test_bad_sort_falls_back_to_the_default_with_a_message(owner, staff_client_as, listed):
    client = staff_client_as(owner)
    response = client.get(LIST + "?sort=password,asc&status=2")
    assert response.status_code == 302 and "sort=" not in response["Location"] and "status=2" in response["Location"]
    followed = client.get(response["Location"])
    assert followed.status_code == 200
    assert "alert-warning" in body(followed)
    for bad in ("customer_name,sideways", ";;", "customer_name,asc,extra"):
        assert client.get(LIST, {"sort": bad}, follow=True).status_code == 200
    # With htmx the partial answers at once, default order, message swapped in out of band.
    partial = client.get(LIST + "?sort=nope", headers=HTMX)
    assert partial.status_code == 200 and "hx-swap-oob" in body(partial) and "<html" not in body(partial)


def test_htmx_request_renders_only_the_results(owner, staff_client_as, listed):
    response = staff_client_as(owner).get(LIST + "?q=alpha", headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in body(response) and 'data-testid="customer-table"' in body(response)
    assert row_names(response) == ["Alpha Systems"]


def test_last_filters_are_remembered_and_reset_clears_them(owner, staff_client_as, listed):
    client = staff_client_as(owner)
    client.get(LIST + "?status=2&q=&page=1&sort=customer_name,desc", headers=HTMX)
    assert client.session[LIST_SESSION_KEY] == "status=2&sort=customer_name%2Cdesc"
    # Coming back without a query string restores them.
    restored = client.get(LIST)
    assert restored.status_code == 302 and restored["Location"] == LIST + "?status=2&sort=customer_name%2Cdesc"
    assert row_names(client.get(restored["Location"])) == ["Gamma Energy", "Alpha Systems"]
    # ?reset=1 forgets them.
    reset = client.get(LIST + "?reset=1")
    assert reset.status_code == 302 and reset["Location"] == LIST
    assert LIST_SESSION_KEY not in client.session
    assert len(row_names(client.get(LIST))) == 3


def test_filter_bar_reset_link_clears_remembered_filters(owner, staff_client_as, listed):
    client = staff_client_as(owner)
    page = body(client.get(LIST + "?status=2"))
    assert 'href="?reset=1"' in page
    response = client.get(LIST + "?reset=1", follow=True)
    assert response.status_code == 200 and len(row_names(response)) == 3
    assert LIST_SESSION_KEY not in client.session


def test_export_links_carry_the_current_filters(owner, staff_client_as, listed):
    page = body(staff_client_as(owner).get(LIST + "?status=2&page=1"))
    assert 'href="/customers/export/?status=2&amp;format=csv"' in page
    assert 'href="/customers/export/?status=2&amp;format=xlsx"' in page
    assert 'data-testid="import-link"' in page


def test_csm_sees_export_but_not_import(teammate, staff_client_as, csm_customer):
    page = body(staff_client_as(teammate).get(LIST))
    assert 'data-testid="export-csv"' in page and 'data-testid="import-link"' not in page
    assert 'name="manager"' not in page  # no bulk assign without assign_customer


def test_bulk_assign_by_lead(lead, teammate, staff_client_as, listed):
    client = staff_client_as(lead)
    ids = [listed["alpha"].pk, listed["beta"].pk]
    response = client.post(
        "/customers/bulk/", {"ids": ids, "action": "assign", "manager": teammate.pk, "next": "/customers/?status=2"}
    )
    assert response.status_code == 302 and response["Location"] == "/customers/?status=2"
    assert reload(listed["alpha"]).assigned_manager_id == teammate.pk
    assert reload(listed["beta"]).assigned_manager_id == teammate.pk
    assert reload(listed["gamma"]).assigned_manager_id != teammate.pk
    with tenant_scope(lead.tenant):
        assert AuditLog.objects.filter(action="crm.customer.reassigned").count() == 2


def test_bulk_assign_needs_a_manager_and_a_selection(lead, staff_client_as, listed):
    client = staff_client_as(lead)
    response = client.post("/customers/bulk/", {"ids": [listed["alpha"].pk], "action": "assign"}, follow=True)
    assert "alert-error" in body(response)
    response = client.post("/customers/bulk/", {"action": "tag", "tag_name": "x"}, follow=True)
    assert "alert-error" in body(response)


def test_bulk_tag_only_reaches_visible_customers(owner, teammate, staff_client_as, csm_customer, unassigned_customer):
    client = staff_client_as(teammate)
    response = client.post(
        "/customers/bulk/", {"ids": [csm_customer.pk, unassigned_customer.pk], "action": "tag", "tag_name": "q3-focus"}
    )
    assert response.status_code == 302
    with tenant_scope(owner.tenant):
        assert CustomerTag.objects.filter(customer=csm_customer, tag_name="q3-focus").exists()
        assert not CustomerTag.objects.filter(customer=unassigned_customer, tag_name="q3-focus").exists()


def test_bulk_tag_with_an_invalid_name_shows_the_service_error(owner, staff_client_as, csm_customer):
    response = staff_client_as(owner).post(
        "/customers/bulk/", {"ids": [csm_customer.pk], "action": "tag", "tag_name": "bad<tag>"}, follow=True
    )
    assert "alert-error" in body(response)
    with tenant_scope(owner.tenant):
        assert not CustomerTag.objects.filter(tag_name="bad<tag>").exists()


def test_bulk_export_redirects_to_the_export_with_the_selected_ids(owner, staff_client_as, listed):
    ids = sorted([listed["alpha"].pk, listed["gamma"].pk])
    response = staff_client_as(owner).post("/customers/bulk/", {"ids": ids, "action": "export"})
    assert response.status_code == 302
    assert response["Location"] == f"/customers/export/?ids={ids[0]},{ids[1]}&format=csv"


# --- Create ---------------------------------------------------------------------------------------------------------
def test_csm_creates_a_customer_with_two_contacts(teammate, staff_client_as):
    client = staff_client_as(teammate)
    form_page = body(client.get("/customers/new/"))
    assert form_page.count('data-testid="contact-row"') == 2
    data = customer_form_data(
        [
            {"contact_name": "Chen Jie", "mobile": "13900139000", "email": "chen@horizon.example", "is_primary": True},
            {"contact_name": "Liu Yang", "position": "CTO", "is_decision_maker": True, "influence_level": 3},
        ],
        industry="Software",
    )
    response = client.post("/customers/new/", data)
    assert response.status_code == 302
    with tenant_scope(teammate.tenant):
        customer = Customer.objects.get(customer_name="New Horizon Tech")
    assert response["Location"] == f"/customers/{customer.pk}/"
    assert customer.assigned_manager_id == teammate.pk and customer.customer_code.startswith("CUST")
    contacts = contacts_of(customer)
    assert [c.contact_name for c in contacts] == ["Chen Jie", "Liu Yang"]
    assert [c.is_primary for c in contacts] == [True, False]
    assert contacts[1].is_decision_maker and contacts[1].influence_level == 3
    detail = body(client.get(response["Location"]))
    assert "alert-success" in detail
    contacts_tab = body(client.get(response["Location"] + "?tab=contacts"))
    assert "Chen Jie" in contacts_tab and "Liu Yang" in contacts_tab
    assert 'href="mailto:chen@horizon.example"' in contacts_tab and 'href="tel:13900139000"' in contacts_tab


def test_create_without_contacts_ignores_the_empty_rows(owner, staff_client_as):
    client = staff_client_as(owner)
    # The browser posts the first (empty) row with "primary" ticked and an untouched influence level.
    data = customer_form_data()
    data.update({"contacts-TOTAL_FORMS": "2", "contacts-0-is_primary": "on", "contacts-1-influence_level": "1"})
    response = client.post("/customers/new/", data)
    assert response.status_code == 302
    with tenant_scope(owner.tenant):
        assert CustomerContact.objects.count() == 0


def test_lead_assigns_a_manager_on_create(lead, teammate, staff_client_as):
    response = staff_client_as(lead).post("/customers/new/", customer_form_data(assigned_manager=teammate.pk))
    assert response.status_code == 302
    with tenant_scope(lead.tenant):
        assert Customer.objects.get().assigned_manager_id == teammate.pk


def test_create_with_two_primary_contacts_shows_an_error_and_saves_nothing(owner, staff_client_as):
    data = customer_form_data(
        [{"contact_name": "One", "is_primary": True}, {"contact_name": "Two", "is_primary": True}]
    )
    response = staff_client_as(owner).post("/customers/new/", data)
    assert response.status_code == 400
    assert 'data-testid="contacts-errors"' in body(response)
    assert "Only one contact can be the primary contact." in body(response)
    with tenant_scope(owner.tenant):
        assert not Customer.objects.exists() and not CustomerContact.objects.exists()


def test_invalid_contact_email_is_shown_next_to_the_field_and_nothing_is_saved(owner, staff_client_as):
    data = customer_form_data([{"contact_name": "Good", "is_primary": True}, {"contact_name": "Bad", "email": "nope@"}])
    response = staff_client_as(owner).post("/customers/new/", data)
    assert response.status_code == 400
    page = body(response)
    assert 'id="id_contacts-1-email_error"' in page
    assert "Enter a valid e-mail address." in page
    assert 'id="id_contacts-0-email_error"' not in page
    assert 'value="nope@"' in page  # the user's input is kept
    with tenant_scope(owner.tenant):
        assert not Customer.objects.exists()


def test_duplicate_name_shows_an_error_with_a_link_to_the_existing_customer(owner, staff_client_as, csm_customer):
    response = staff_client_as(owner).post("/customers/new/", customer_form_data(customer_name="ACME cloud ltd."))
    assert response.status_code == 400
    page = body(response)
    assert 'id="id_customer_name_error"' in page
    assert f'href="/customers/{csm_customer.pk}/"' in page and csm_customer.customer_code in page
    with tenant_scope(owner.tenant):
        assert Customer.objects.count() == 1


def test_duplicate_of_a_customer_the_csm_cannot_see_names_no_link(teammate, staff_client_as, unassigned_customer):
    response = staff_client_as(teammate).post("/customers/new/", customer_form_data(customer_name="Hidden Harbour Co"))
    assert response.status_code == 400
    page = body(response)
    # It says that the name exists, but not which customer (issue 8 item 9: no code of an invisible customer).
    assert "already exists" in page and unassigned_customer.customer_code not in page
    assert f'href="/customers/{unassigned_customer.pk}/"' not in page


def test_service_errors_are_mapped_onto_fields_and_contact_rows(owner, rf):
    formset_class = contact_formset_class(extra=0, can_delete=False)
    data = customer_form_data(
        [{"contact_name": "Skipped"}, {"contact_name": "First kept"}, {"contact_name": "Second kept"}]
    )
    request = rf.post("/customers/new/", data)
    form = CustomerForm(request.POST, user=owner, tenant=owner.tenant)
    formset = formset_class(request.POST, prefix="contacts")
    with tenant_scope(owner.tenant):
        assert form.is_valid() and formset.is_valid()
    error = ValidationError(
        {
            "contacts[1].email": ["Bad e-mail."],
            "contacts": ["Only one contact can be the primary contact."],
            "assigned_manager_id": ["Choose an active user of your tenant."],
            "website": ["Bad website."],
            "unknown_field": ["Something else."],
        }
    )
    # The service saw rows 1 and 2 of the formset as contacts[0] and contacts[1].
    apply_service_errors(error, form, formset, contact_rows=[1, 2])
    assert formset.forms[2].errors["email"] == ["Bad e-mail."]
    assert not formset.forms[1].errors
    assert formset.non_form_errors() == ["Only one contact can be the primary contact."]
    assert form.errors["assigned_manager"] == ["Choose an active user of your tenant."]
    assert form.errors["website"] == ["Bad website."]
    assert any("Something else." in message for message in form.non_field_errors())


# --- Edit -----------------------------------------------------------------------------------------------------------
def test_edit_changes_are_saved_and_audited(owner, staff_client_as, csm_customer):
    client = staff_client_as(owner)
    contact = contacts_of(csm_customer)[0]
    data = customer_form_data(
        existing=[existing_row(contact)],
        customer_name="Acme Cloud Ltd",
        level=3,
        description="Strategic account",
        assigned_manager=csm_customer.assigned_manager_id,
    )
    response = client.post(f"/customers/{csm_customer.pk}/edit/", data)
    assert response.status_code == 302, body(response)
    stored = reload(csm_customer)
    assert stored.level == 3 and stored.description == "Strategic account"
    with tenant_scope(owner.tenant):
        entry = AuditLog.objects.get(action="crm.customer.updated", object_id=str(csm_customer.pk))
    assert entry.changes["level"] == {"old": 1, "new": 3}
    assert set(entry.changes) == {"level", "description"}
    timeline = body(client.get(f"/customers/{csm_customer.pk}/?tab=timeline"))
    assert 'data-testid="timeline"' in timeline and "Strategic account" in timeline


def test_edit_updates_deletes_and_adds_contacts(owner, staff_client_as, csm_customer):
    first = contacts_of(csm_customer)[0]
    second = make_contact(owner, csm_customer, contact_name="Second Person", email="second@acme.example")
    data = customer_form_data(
        [{"contact_name": "Third Person", "mobile": "13700137000"}],
        existing=[
            existing_row(first, is_primary=False, DELETE=True),
            existing_row(second, is_primary=True, position="COO"),
        ],
        customer_name="Acme Cloud Ltd",
        assigned_manager=csm_customer.assigned_manager_id,
    )
    response = staff_client_as(owner).post(f"/customers/{csm_customer.pk}/edit/", data)
    assert response.status_code == 302, body(response)
    contacts = contacts_of(csm_customer)
    assert [(c.contact_name, c.is_primary, c.position) for c in contacts] == [
        ("Second Person", True, "COO"),
        ("Third Person", False, ""),
    ]
    with tenant_scope(owner.tenant):
        actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"crm.contact.deleted", "crm.contact.updated", "crm.contact.created"} <= actions


def test_failed_edit_changes_nothing(owner, staff_client_as, csm_customer, unassigned_customer):
    contact = contacts_of(csm_customer)[0]
    data = customer_form_data(
        [{"contact_name": "Would Be New"}],
        existing=[existing_row(contact, position="Changed")],
        customer_name="Hidden Harbour Co",  # taken by another customer
        assigned_manager=csm_customer.assigned_manager_id,
    )
    response = staff_client_as(owner).post(f"/customers/{csm_customer.pk}/edit/", data)
    assert response.status_code == 400
    assert f'href="/customers/{unassigned_customer.pk}/"' in body(response)
    assert reload(csm_customer).customer_name == "Acme Cloud Ltd"
    assert [(c.contact_name, c.position) for c in contacts_of(csm_customer)] == [("Zhang Wei", "")]


def test_edit_contact_error_rolls_back_the_customer_change(owner, staff_client_as, csm_customer):
    contact = contacts_of(csm_customer)[0]
    data = customer_form_data(
        existing=[existing_row(contact)],
        customer_name="Acme Cloud Ltd",
        level=4,
        assigned_manager=csm_customer.assigned_manager_id,
    )
    data["contacts-0-contact_id"] = "999999"  # a contact that is not this customer's
    response = staff_client_as(owner).post(f"/customers/{csm_customer.pk}/edit/", data)
    assert response.status_code == 400
    assert reload(csm_customer).level == 1


def test_edit_with_two_primaries_is_refused(owner, staff_client_as, csm_customer):
    first = contacts_of(csm_customer)[0]
    second = make_contact(owner, csm_customer, contact_name="Second")
    data = customer_form_data(
        existing=[existing_row(first), existing_row(second, is_primary=True)],
        customer_name="Acme Cloud Ltd",
        assigned_manager=csm_customer.assigned_manager_id,
    )
    response = staff_client_as(owner).post(f"/customers/{csm_customer.pk}/edit/", data)
    assert response.status_code == 400 and 'data-testid="contacts-errors"' in body(response)


def test_edit_form_is_prefilled_with_contacts(owner, staff_client_as, csm_customer):
    page = body(staff_client_as(owner).get(f"/customers/{csm_customer.pk}/edit/"))
    assert 'value="Acme Cloud Ltd"' in page and 'value="Zhang Wei"' in page
    assert 'name="contacts-0-DELETE"' in page and page.count('data-testid="contact-row"') == 2


# --- 360° page, tags, sharing, delete -------------------------------------------------------------------------------
def test_detail_page_header_and_tabs(owner, staff_client_as, csm_customer):
    client = staff_client_as(owner)
    page = body(client.get(f"/customers/{csm_customer.pk}/"))
    assert csm_customer.customer_code in page and "Acme Cloud Ltd" in page
    for slug in (
        "overview",
        "contacts",
        "tags",
        "contracts",
        "timeline",
        "duplicates",
    ):
        assert f'data-tab="{slug}"' in page
    # Tabs come from the apps that registered them, in weight order; no placeholder for an app not installed.
    assert page.index('data-tab="overview"') < page.index('data-tab="contracts"') < page.index('data-tab="timeline"')
    assert f'href="/customers/{csm_customer.pk}/duplicates/"' in page
    contracts = body(client.get(f"/customers/{csm_customer.pk}/?tab=contracts"))
    assert "0 active contracts" in contracts and 'data-testid="customer-new-contract"' in contracts
    # Unknown tab: the overview.
    assert 'data-testid="customer-fields"' in body(client.get(f"/customers/{csm_customer.pk}/?tab=nope"))


def test_detail_tab_via_htmx_renders_only_the_tab_area(owner, staff_client_as, csm_customer):
    response = staff_client_as(owner).get(
        f"/customers/{csm_customer.pk}/?tab=contacts", headers={**HTMX, "HX-Target": "customer-tabs"}
    )
    assert response.status_code == 200
    assert "<html" not in body(response) and 'data-testid="contacts-table"' in body(response)


def test_contacts_tab_shows_badges(owner, staff_client_as):
    customer = make_customer(
        owner,
        contacts=[
            {"contact_name": "Boss", "is_primary": True, "is_decision_maker": True},
            {"contact_name": "Helper"},
        ],
    )
    page = body(staff_client_as(owner).get(f"/customers/{customer.pk}/?tab=contacts"))
    assert page.count('data-testid="contact-row"') == 2
    assert "badge-primary" in page and "Decision maker" in page


def test_tag_add_and_remove_with_htmx(owner, staff_client_as, csm_customer):
    client = staff_client_as(owner)
    response = client.post(f"/customers/{csm_customer.pk}/tags/", {"tag_name": " upsell "}, headers=HTMX)
    assert response.status_code == 200
    assert 'id="tag-chips"' in body(response) and "upsell" in body(response) and "<html" not in body(response)
    tag = tag_of(csm_customer, "upsell")
    response = client.post(f"/customers/{csm_customer.pk}/tags/{tag.pk}/remove/", headers=HTMX)
    assert response.status_code == 200 and "upsell" not in body(response)
    with tenant_scope(owner.tenant):
        assert list(AuditLog.objects.filter(action__startswith="crm.tag.").values_list("action", flat=True)) == [
            "crm.tag.removed",
            "crm.tag.added",
        ]


def test_tag_errors_are_shown_in_the_chips(owner, staff_client_as, csm_customer):
    client = staff_client_as(owner)
    response = client.post(f"/customers/{csm_customer.pk}/tags/", {"tag_name": "no<way>"}, headers=HTMX)
    assert response.status_code == 200 and "field-error" in body(response)
    without_htmx = client.post(f"/customers/{csm_customer.pk}/tags/", {"tag_name": "no<way>"}, follow=True)
    assert "alert-error" in body(without_htmx)


def test_tag_add_without_htmx_redirects_to_the_tags_tab(owner, staff_client_as, csm_customer):
    response = staff_client_as(owner).post(f"/customers/{csm_customer.pk}/tags/", {"tag_name": "renewal-2026"})
    assert response.status_code == 302 and response["Location"] == f"/customers/{csm_customer.pk}/?tab=tags"


def test_tag_of_another_customer_cannot_be_removed_through_this_one(owner, staff_client_as, csm_customer):
    other = make_customer(owner)
    tag = make_tag(owner, other, "foreign")
    response = staff_client_as(owner).post(f"/customers/{csm_customer.pk}/tags/{tag.pk}/remove/")
    assert response.status_code == 404
    tag_of(other, "foreign")  # still there


def test_share_and_unshare(owner, teammate, staff_client_as, unassigned_customer):
    lead_client, csm_client = staff_client_as(owner), staff_client_as(teammate)
    url = f"/customers/{unassigned_customer.pk}/"
    assert csm_client.get(url).status_code == 404
    response = lead_client.post(url + "share/", {"action": "share", "user": teammate.pk})
    assert response.status_code == 302 and response["Location"] == url + "?tab=overview#share"
    assert csm_client.get(url).status_code == 200
    panel = body(lead_client.get(url))
    assert 'data-testid="shared-user"' in panel and teammate.get_display_name() in panel
    lead_client.post(url + "share/", {"action": "unshare", "user": teammate.pk})
    assert csm_client.get(url).status_code == 404


def test_share_with_a_user_of_another_tenant_is_refused(owner, outsider, staff_client_as, unassigned_customer):
    response = staff_client_as(owner).post(
        f"/customers/{unassigned_customer.pk}/share/", {"action": "share", "user": outsider.pk}, follow=True
    )
    assert "alert-error" in body(response)


def test_delete_hides_the_customer_from_the_list(owner, staff_client_as, csm_customer):
    client = staff_client_as(owner)
    assert client.get(f"/customers/{csm_customer.pk}/delete/").status_code == 405
    page = body(client.get(f"/customers/{csm_customer.pk}/"))
    assert f'action="/customers/{csm_customer.pk}/delete/" data-confirm=' in page
    response = client.post(f"/customers/{csm_customer.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == LIST
    assert "Acme Cloud Ltd" not in row_names(client.get(LIST))
    with tenant_scope(owner.tenant):
        assert AuditLog.objects.filter(action="crm.customer.deleted").exists()


# --- Duplicates and merge -------------------------------------------------------------------------------------------
@pytest.fixture
def twins(owner, teammate):
    first = make_customer(
        owner,
        customer_name="Orion Data",
        industry="Software",
        assigned_manager=teammate,
        contacts=[{"contact_name": "Ma Lin", "email": "ma@orion.example", "is_primary": True}],
        tags=["key-account", "shared-tag"],
    )
    second = make_customer(
        owner,
        customer_name="Orion Data Services",
        industry="IT services",
        website="www.orion.example",
        contacts=[
            {"contact_name": "Ma Lin (old)", "email": "ma@orion.example", "is_primary": True},
            {"contact_name": "Sun Li"},
        ],
        tags=["shared-tag", "pilot"],
    )
    return first, second


def test_duplicates_page_lists_candidates_with_reasons_and_merge_links(owner, teammate, staff_client_as, twins):
    first, second = twins
    page = body(staff_client_as(owner).get(f"/customers/{first.pk}/duplicates/"))
    assert page.count('data-testid="duplicate-row"') == 1
    assert "Orion Data Services" in page and "shared contact" in page
    assert f'href="/customers/{first.pk}/merge/{second.pk}/"' in page
    # A CSM only sees candidates visible to them, and no merge link.
    share(owner, second, teammate)
    csm_page = body(staff_client_as(teammate).get(f"/customers/{first.pk}/duplicates/"))
    assert "Orion Data Services" in csm_page and 'data-testid="merge-link"' not in csm_page


def test_merge_moves_contacts_and_tags_and_keeps_the_picked_values(owner, staff_client_as, twins):
    first, second = twins
    client = staff_client_as(owner)
    url = f"/customers/{first.pk}/merge/{second.pk}/"
    page = body(client.get(url))
    assert 'data-testid="merge-table"' in page and 'name="pick_industry"' in page
    assert 'name="pick_customer_type"' not in page  # equal values need no choice
    response = client.post(
        url,
        {
            "survivor": str(first.pk),
            "pick_customer_name": str(first.pk),
            "pick_industry": str(second.pk),
            "pick_website": str(second.pk),
            "pick_assigned_manager": str(first.pk),
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/customers/{first.pk}/"
    survivor, duplicate = reload(first), reload(second)
    assert survivor.industry == "IT services" and survivor.website == "www.orion.example"
    assert survivor.customer_name == "Orion Data"
    assert duplicate.deleted_at is not None and duplicate.merged_into_id == first.pk
    contacts = contacts_of(survivor)
    assert len(contacts) == 3 and sum(c.is_primary for c in contacts) == 1
    with tenant_scope(owner.tenant):
        tags = sorted(CustomerTag.objects.filter(customer=survivor).values_list("tag_name", flat=True))
    assert tags == ["key-account", "pilot", "shared-tag"]
    assert_page_not_found(client, f"/customers/{second.pk}/")


def test_merge_into_the_other_record(owner, staff_client_as, twins):
    first, second = twins
    response = staff_client_as(owner).post(
        f"/customers/{first.pk}/merge/{second.pk}/",
        {
            "survivor": str(second.pk),
            "pick_customer_name": str(first.pk),
            "pick_industry": str(second.pk),
            "pick_website": str(second.pk),
            "pick_assigned_manager": str(first.pk),
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/customers/{second.pk}/"
    survivor = reload(second)
    # The first record's name and manager were picked: they move onto the survivor.
    assert survivor.customer_name == "Orion Data" and survivor.assigned_manager_id == first.assigned_manager_id
    assert reload(first).deleted_at is not None


def test_merge_with_itself_is_404_and_csm_cannot_merge(owner, teammate, staff_client_as, twins):
    first, second = twins
    assert staff_client_as(owner).get(f"/customers/{first.pk}/merge/{first.pk}/").status_code == 404
    assert staff_client_as(teammate).post(f"/customers/{first.pk}/merge/{second.pk}/", {}).status_code == 403


# --- Admin ----------------------------------------------------------------------------------------------------------
def test_admin_lists_and_edits_customers_through_the_services(owner, outsider, staff_client_as, csm_customer):
    foreign = make_customer(outsider, customer_name="Foreign Co")
    client = staff_client_as(owner)
    listing = client.get("/admin/customers/customer/?q=zhang")
    assert listing.status_code == 200 and "Acme Cloud Ltd" in body(listing)
    assert "Foreign Co" not in body(client.get("/admin/customers/customer/"))
    assert client.get(f"/admin/customers/customer/{foreign.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/customers/customer/add/").status_code == 403
    change = client.get(f"/admin/customers/customer/{csm_customer.pk}/change/")
    assert change.status_code == 200 and "Zhang Wei" in body(change)
    assert client.get("/admin/customers/customercontact/").status_code == 200
    assert client.get("/admin/customers/customertag/").status_code == 200


def _admin_post_data(customer, contact, **changes):
    data = {
        "customer_name": customer.customer_name,
        "customer_type": customer.customer_type,
        "industry": customer.industry,
        "status": customer.status,
        "level": customer.level,
        "assigned_manager": customer.assigned_manager_id or "",
        "contacts-TOTAL_FORMS": "1",
        "contacts-INITIAL_FORMS": "1",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "1000",
        "contacts-0-id": contact.pk,
        "contacts-0-customer": customer.pk,
        "contacts-0-contact_name": contact.contact_name,
        "contacts-0-email": contact.email,
        "contacts-0-is_primary": "on",
        "contacts-0-influence_level": contact.influence_level,
        "tags-TOTAL_FORMS": "1",
        "tags-INITIAL_FORMS": "0",
        "tags-MIN_NUM_FORMS": "0",
        "tags-MAX_NUM_FORMS": "1000",
        "tags-0-tag_name": "",
        "tags-0-tag_type": "1",
    }
    data.update(changes)
    return data


def test_admin_save_goes_through_the_services(owner, staff_client_as, csm_customer):
    contact = contacts_of(csm_customer)[0]
    client = staff_client_as(owner)
    url = f"/admin/customers/customer/{csm_customer.pk}/change/"
    data = _admin_post_data(
        csm_customer,
        contact,
        customer_name="Acme Cloud Group",
        **{"contacts-0-position": "CEO", "tags-0-tag_name": "admin-tag"},
    )
    response = client.post(url, data)
    assert response.status_code == 302, body(response)[:3000]
    stored = reload(csm_customer)
    assert stored.customer_name == "Acme Cloud Group" and stored.normalized_name == "acmecloudgroup"
    assert contacts_of(csm_customer)[0].position == "CEO"
    tag_of(csm_customer, "admin-tag")
    with tenant_scope(owner.tenant):
        actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"crm.customer.updated", "crm.contact.updated", "crm.tag.added"} <= actions


def test_admin_save_with_a_duplicate_name_is_refused_and_rolled_back(
    owner, staff_client_as, csm_customer, unassigned_customer
):
    contact = contacts_of(csm_customer)[0]
    client = staff_client_as(owner)
    url = f"/admin/customers/customer/{csm_customer.pk}/change/"
    data = _admin_post_data(csm_customer, contact, customer_name="Hidden Harbour Co", **{"contacts-0-position": "CEO"})
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert unassigned_customer.customer_code in body(response)
    assert reload(csm_customer).customer_name == "Acme Cloud Ltd"
    assert contacts_of(csm_customer)[0].position == ""


# --- Query budgets --------------------------------------------------------------------------------------------------
def _count_queries(client, url) -> int:
    client.get(url)  # warm the permission caches, so both measurements compare the same path
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _fill(owner, start: int, count: int):
    for index in range(start, start + count):
        make_customer(
            owner,
            customer_name=f"Budget Customer {index:03d}",
            contacts=[{"contact_name": f"Person {index}", "is_primary": True}, {"contact_name": f"Other {index}"}],
            tags=[f"tag-{index}", "common"],
        )


def test_list_query_count_does_not_grow_with_the_rows(owner, staff_client_as):
    client = staff_client_as(owner)
    _fill(owner, 0, 5)
    client.get(LIST + "?sort=customer_name,asc")  # warm-up: remembers the filters in the session
    five = _count_queries(client, LIST + "?sort=customer_name,asc")
    _fill(owner, 5, 25)
    thirty = _count_queries(client, LIST + "?sort=customer_name,asc")
    assert five == thirty, (five, thirty)
    with query_budget(15):
        client.get(LIST + "?sort=customer_name,asc&tag=common")


def test_detail_query_count_does_not_grow_with_contacts_and_tags(owner, staff_client_as):
    client = staff_client_as(owner)
    small = make_customer(owner, contacts=[{"contact_name": "Only", "is_primary": True}], tags=["one"])
    big = make_customer(
        owner,
        contacts=[{"contact_name": f"Person {i}", "is_primary": i == 0} for i in range(8)],
        tags=[f"tag-{i}" for i in range(8)],
    )
    for tab in ("overview", "contacts", "tags", "timeline"):
        few = _count_queries(client, f"/customers/{small.pk}/?tab={tab}")
        many = _count_queries(client, f"/customers/{big.pk}/?tab={tab}")
        assert few == many, (tab, few, many)
    with query_budget(16):
        client.get(f"/customers/{big.pk}/")


def test_admin_superuser_without_tenant_edits_any_tenants_customer(owner, csm_customer, staff_client_as):
    from accounts.tests.factories import UserFactory

    root = UserFactory(tenant=None, username="root", is_superuser=True, is_staff=True, role="tenant_admin")
    client = staff_client_as(root)
    assert client.get("/admin/customers/customer/").status_code == 200
    url = f"/admin/customers/customer/{csm_customer.pk}/change/"
    assert client.get(url).status_code == 200
    contact = contacts_of(csm_customer)[0]
    data = _admin_post_data(csm_customer, contact, level=2, **{"tags-0-tag_name": "root-tag"})
    response = client.post(url, data)
    assert response.status_code == 302, body(response)[:3000]
    assert reload(csm_customer).level == 2
    tag_of(csm_customer, "root-tag")


def test_htmx_history_restore_gets_the_whole_page(owner, staff_client_as, listed):
    response = staff_client_as(owner).get(LIST + "?q=alpha", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in body(response) and "hx-swap-oob" not in body(response)


def test_registered_list_column_is_shown_sorted_and_costs_one_query_for_the_page(owner, staff_client_as):
    from django.db.models import Count

    from customers.extensions import ListColumn, list_columns

    make_customer(owner, customer_name="Crowded Co", contacts=[{"contact_name": f"C{i}"} for i in range(3)])
    make_customer(owner, customer_name="Quiet Co")
    list_columns.register(
        ListColumn(
            "contact_count",
            "Contact count",
            value=lambda customer: customer.walk_contact_count,
            sort_field="walk_contact_count",
            queryset=lambda qs: qs.annotate(walk_contact_count=Count("contacts", distinct=True)),
        )
    )
    try:
        client = staff_client_as(owner)
        client.get("/customers/?reset=1")
        with query_budget(15):
            page = body(client.get("/customers/?sort=contact_count,desc"))
        assert "Contact count" in page
        assert page.index("Crowded Co") < page.index("Quiet Co")
        cells = re.findall(r'data-testid="extra-cell">([^<]*)<', page)
        assert cells[:2] == ["3", "0"], cells
    finally:
        list_columns.unregister("contact_count")
