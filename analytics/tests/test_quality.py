"""Decision chain, completeness and contact accuracy, the one-click fixes, the weekly reminder."""

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone, translation

from accounts.models import AuditLog, Notification
from accounts.tenancy import tenant_scope
from analytics import decision, quality
from analytics.tasks import data_quality_reminders
from communications.tests.factories import make_communication
from crm_project.testing import assert_envelope, query_budget
from customers.choices import InfluenceLevel
from customers.models import Customer, CustomerContact
from customers.tests.factories import make_contact, make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(make_user):
    return make_user(role="cs_lead", username="lead", email="lead@example.com")


def test_decision_chain_groups_contacts_and_flags_gaps(owner):
    customer = make_customer(owner, customer_name="Chain Ltd")
    with tenant_scope(owner.tenant):
        assert [g["code"] for g in decision.decision_chain(customer)["gaps"]] == ["no_decision_maker"]
    boss = make_contact(
        owner, customer, contact_name="Boss", is_decision_maker=True, influence_level=InfluenceLevel.HIGH
    )
    make_contact(owner, customer, contact_name="Head of IT", influence_level=InfluenceLevel.MEDIUM)
    make_contact(owner, customer, contact_name="Operator", influence_level=InfluenceLevel.LOW)
    make_communication(owner, customer, contact=boss, communication_date=timezone.now() - timedelta(days=120))
    with tenant_scope(owner.tenant), translation.override("en"):
        chain = decision.decision_chain(customer)
    assert [c["contact_name"] for c in chain["decision_makers"]] == ["Boss"]
    assert [c["contact_name"] for c in chain["influencers"]] == ["Head of IT"]
    assert [c["contact_name"] for c in chain["users"]] == ["Operator"]
    assert [g["code"] for g in chain["gaps"]] == ["decision_maker_not_contacted"]
    assert chain["gaps"][0]["message"] == "No decision maker contacted in 90 days"
    make_communication(owner, customer, contact=boss, communication_date=timezone.now() - timedelta(days=10))
    with tenant_scope(owner.tenant):
        assert decision.decision_chain(customer)["gaps"] == []


def _bad_email(contact, value="not-an-email"):
    """Legacy data: the service validates formats, an old import did not."""
    with tenant_scope(contact.tenant):
        CustomerContact.objects.filter(pk=contact.pk).update(email=value)


def test_completeness_score_and_contact_accuracy_hand_computed(owner, teammate):
    # Complete: 4 fields, manager, a primary decision maker with a valid mobile → 9 of 9.
    full = make_customer(
        owner,
        customer_name="Full Ltd",
        industry="IT",
        scale="50",
        address="1 Road",
        region="East",
        assigned_manager=teammate,
    )
    make_contact(owner, full, contact_name="Ann", is_primary=True, is_decision_maker=True, mobile="13800138000")
    # Gaps: no address, no region; its only contact (primary, not a decision maker) has a malformed e-mail.
    # Missing: address, region, decision_maker, reachable → (9 − 4) / 9 = 55.6 %.
    gap = make_customer(owner, customer_name="Gap Ltd", industry="IT", scale="10", assigned_manager=teammate)
    bob = make_contact(owner, gap, contact_name="Bob", is_primary=True, email="bob@example.com")
    _bad_email(bob)
    with tenant_scope(owner.tenant):
        rows = {q.customer_name: q for q in quality.customers_quality(Customer.objects.all())}
        figures = quality.summary(list(rows.values()))
    assert rows["Full Ltd"].score == 100.0 and rows["Full Ltd"].missing == []
    assert rows["Gap Ltd"].missing == ["address", "region", "decision_maker", "reachable"]
    assert rows["Gap Ltd"].score == 55.6
    assert rows["Gap Ltd"].inaccurate_contacts[0].email_problem == "invalid"
    # Basic information (100 + 55.6) / 2 = 77.8 % < 95 %; contacts 1 of 2 accurate = 50 % < 90 %.
    assert (figures["basic_completeness"], figures["basic_met"]) == (77.8, False)
    assert (figures["contact_accuracy"], figures["accuracy_met"]) == (50.0, False)
    # A valid e-mail marked as bounced is not accurate either.
    with tenant_scope(owner.tenant):
        CustomerContact.objects.filter(pk=bob.pk).update(email="bob@example.com", email_status="bounced")
        row = quality.customers_quality(Customer.objects.filter(pk=gap.pk))[0]
    assert row.inaccurate_contacts[0].email_problem == "bounced" and "reachable" in row.missing


def test_report_page_and_one_click_fixes(owner, lead, teammate, staff_client_as, api_as):
    orphan = make_customer(owner, customer_name="Orphan Ltd")  # created by the owner, no manager
    contact = make_contact(owner, orphan, contact_name="Carl", email="carl@example.com")
    _bad_email(contact, "carl@@example")
    client = staff_client_as(lead)
    with query_budget(25):
        page = client.get("/analytics/data-quality/")
    html = page.content.decode()
    assert page.status_code == 200 and "Orphan Ltd" in html and "≥ 95" in html and "≥ 90" in html
    assert f'data-testid="mark-email-{contact.pk}"' in html and f'data-testid="fill-manager-{orphan.pk}"' in html
    client.post(f"/analytics/data-quality/contacts/{contact.pk}/mark", {"field": "email", "status": "wrong"})
    client.post(f"/analytics/data-quality/customers/{orphan.pk}/manager")
    with tenant_scope(owner.tenant):
        contact.refresh_from_db()
        orphan.refresh_from_db()
        actions = set(AuditLog.objects.filter(object_id=str(orphan.pk)).values_list("action", flat=True))
    assert contact.email_status == "wrong" and orphan.assigned_manager == owner
    assert {"crm.data_quality.contact_marked", "crm.data_quality.manager_set", "crm.customer.reassigned"} <= actions
    # Invalid input is refused without a 500; the API answers the same figures.
    response = client.post(f"/analytics/data-quality/contacts/{contact.pk}/mark", {"field": "phone", "status": "x"})
    assert response.status_code == 302
    data = assert_envelope(api_as(lead).get(f"/api/v1/customers/{orphan.pk}/data-quality"), 200)
    assert data["contacts"][0]["email_problem"] == "wrong" and "assigned_manager" not in data["missing"]
    chain = assert_envelope(api_as(lead).get(f"/api/v1/customers/{orphan.pk}/decision-chain"), 200)
    assert chain["gaps"][0]["code"] == "no_decision_maker"


def test_customer_tab_shows_grading_chain_and_quality(owner, staff_client_as):
    customer = make_customer(owner, customer_name="Tab Ltd")
    dora = make_contact(owner, customer, contact_name="Dora", influence_level=InfluenceLevel.HIGH, email="d@x.com")
    client = staff_client_as(owner)
    url = f"/customers/{customer.pk}/?tab=analytics"
    html = client.get(url).content.decode()
    assert 'data-testid="decision-chain"' in html and 'data-testid="quality-panel"' in html
    assert "No decision maker" in html and "Dora" in html and f'data-testid="bounce-{dora.pk}"' in html
    # The e-mail bounced: marked from the tab, the contact is no longer accurate; the mark can be cleared.
    response = client.post(
        f"/analytics/data-quality/contacts/{dora.pk}/mark", {"field": "email", "status": "bounced", "next": url}
    )
    assert response.status_code == 302 and response["Location"] == url
    html = client.get(url).content.decode()
    assert f'data-testid="clear-email-{dora.pk}"' in html and "contact details not accurate" in html
    client.post(f"/analytics/data-quality/contacts/{dora.pk}/mark", {"field": "email", "status": ""})
    with tenant_scope(owner.tenant):
        dora.refresh_from_db()
    assert dora.email_status == ""


def test_weekly_reminder_once_per_manager_per_week(owner, teammate, make_user):
    teammate.email = "csm@example.com"
    teammate.save()
    make_customer(owner, customer_name="Half Ltd", assigned_manager=teammate)
    make_customer(owner, customer_name="Other Ltd", assigned_manager=teammate)
    monday = datetime(2026, 3, 2, 8, tzinfo=timezone.get_current_timezone())
    with time_machine.travel(monday, tick=False), translation.override("en"):
        first = data_quality_reminders(owner.tenant_id)
        second = data_quality_reminders(owner.tenant_id)
    assert (first["sent"], second["sent"], second["already_sent"]) == (1, 0, 1)
    with tenant_scope(owner.tenant):
        notes = list(Notification.objects.filter(recipient=teammate, kind="analytics.data_quality"))
    assert (
        len(notes) == 1 and "2 of your customers are incomplete" in notes[0].message and "Half Ltd" in notes[0].message
    )
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["csm@example.com"]
    with time_machine.travel(monday + timedelta(days=7), tick=False):
        assert data_quality_reminders(owner.tenant_id)["sent"] == 1
    assert date(2026, 3, 9).isocalendar()[1] == 11


def test_editing_a_marked_address_clears_its_mark(owner):
    from customers import services

    customer = make_customer(owner, customer_name="Fix Ltd")
    contact = make_contact(owner, customer, contact_name="Eve", email="eve@old.com", mobile="13800138000")
    with tenant_scope(owner.tenant):
        quality.contact_mark(actor=owner, contact=contact, field_name="email", status="bounced")
        quality.contact_mark(actor=owner, contact=contact, field_name="mobile", status="wrong")
        contact = CustomerContact.objects.get(pk=contact.pk)
        services.contact_update(actor=owner, contact=contact, data={"position": "CTO"})
        contact.refresh_from_db()
        assert (contact.email_status, contact.mobile_status) == ("bounced", "wrong")  # other edits keep the marks
        services.contact_update(actor=owner, contact=contact, data={"email": "eve@new.com"})
        contact.refresh_from_db()
    assert (contact.email_status, contact.mobile_status) == ("", "wrong")
