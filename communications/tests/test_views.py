"""Staff pages: the Communications tab (quick-log, filters, older page, chart), a communication's page,
sentiment override, the merged timeline page; isolation and roles."""

from urllib.parse import urlencode

import pytest
from django.utils import timezone

from accounts.tenancy import tenant_scope
from communications.models import Communication, FollowUp
from communications.tests.factories import make_communication
from crm_project.testing import assert_page_not_found, query_budget
from customers.tests.factories import make_contact, make_customer

pytestmark = pytest.mark.django_db

FORM = {
    "communication_type": "1",
    "direction": "2",
    "communication_date": "2026-11-30T10:00",
    "subject": "Outage call",
    "content": "They are furious about the repeated outages and threaten not to renew.",
    "importance": "3",
    "next_action": "Send the RCA",
    "next_action_due": "2030-01-10",
}


def tab_url(customer):
    return f"/customers/{customer.pk}/?tab=communications"


def test_the_tab_shows_the_timeline_with_sentiment_keywords_and_needs(owner, staff_client_as):
    customer = make_customer(owner)
    make_communication(owner, customer, subject="Renewal talk", content="客户说明年不续约，正在接触其他供应商")
    html = staff_client_as(owner).get(tab_url(customer)).content.decode()
    assert 'data-testid="customer-communications"' in html
    assert "Renewal talk" in html and 'data-sentiment="1"' in html
    assert "Renewal risk" in html and "不续约" in html
    assert 'data-chart="comm-frequency"' in html


def test_quick_log_with_htmx_refreshes_the_tab(owner, staff_client_as):
    customer = make_customer(owner)
    client = staff_client_as(owner)
    response = client.post(f"/communications/customers/{customer.pk}/log/", FORM, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="comm-logged"' in html and "Outage call" in html
    with tenant_scope(owner.tenant):
        comm = Communication.objects.get(customer=customer)
        assert comm.sentiment == 1 and FollowUp.objects.filter(communication=comm).exists()


def test_quick_log_with_another_customers_contact_shows_the_error(owner, staff_client_as):
    customer, other = make_customer(owner), make_customer(owner)
    stranger = make_contact(owner, other)
    response = staff_client_as(owner).post(
        f"/communications/customers/{customer.pk}/log/", {**FORM, "contact": stranger.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert 'has-error" data-field="contact"' in response.content.decode()
    with tenant_scope(owner.tenant):
        assert not Communication.objects.exists()


def test_filters_and_older_page(owner, staff_client_as):
    customer = make_customer(owner)
    now = timezone.now()
    for index in range(22):
        make_communication(
            owner, customer, subject=f"Note {index:02d}", communication_date=now - timezone.timedelta(hours=index)
        )
    client = staff_client_as(owner)
    first = client.get(tab_url(customer)).content.decode()
    assert "Note 00" in first and "Note 21" not in first and 'data-testid="comm-older"' in first
    with query_budget(15):
        response = client.get(
            f"/communications/customers/{customer.pk}/list/?communication_type=1", HTTP_HX_REQUEST="true"
        )
    assert "Note 00" in response.content.decode()
    before = urlencode({"before": (now - timezone.timedelta(hours=19, minutes=30)).isoformat()})
    older = client.get(f"/communications/customers/{customer.pk}/list/?{before}")
    assert "Note 21" in older.content.decode() and "Note 05" not in older.content.decode()


def test_quick_log_without_htmx_redirects_or_shows_the_form_with_errors(owner, staff_client_as):
    customer = make_customer(owner)
    client = staff_client_as(owner)
    response = client.post(f"/communications/customers/{customer.pk}/log/", {**FORM, "communication_type": "9"})
    assert response.status_code == 400
    response = client.post(f"/communications/customers/{customer.pk}/log/", FORM)
    assert response.status_code == 302 and response["Location"].endswith("?tab=communications")


def test_detail_page_and_sentiment_override(owner, staff_client_as):
    comm = make_communication(owner, make_customer(owner), content="Thanks, great work")
    client = staff_client_as(owner)
    assert "Analysis" in client.get(f"/communications/{comm.pk}/").content.decode()
    client.post(f"/communications/{comm.pk}/sentiment/", {"sentiment": "1"})
    with tenant_scope(owner.tenant):
        assert Communication.objects.get(pk=comm.pk).sentiment == 1
    assert "Set by staff" in client.get(f"/communications/{comm.pk}/").content.decode()


def test_edit_and_delete_pages(owner, staff_client_as):
    customer = make_customer(owner)
    comm = make_communication(owner, customer)
    client = staff_client_as(owner)
    assert client.get(f"/communications/{comm.pk}/edit/").status_code == 200
    response = client.post(f"/communications/{comm.pk}/edit/", {**FORM, "subject": "Changed"})
    assert response.status_code == 302
    client.post(f"/communications/{comm.pk}/delete/")
    with tenant_scope(owner.tenant):
        stored = Communication.objects.get(pk=comm.pk)
        assert stored.subject == "Changed" and stored.deleted_at is not None


def test_merged_timeline_page_shows_communications_and_pages_older(owner, staff_client_as):
    customer = make_customer(owner)
    now = timezone.now()
    for index in range(25):
        make_communication(
            owner, customer, subject=f"Call {index:02d}", communication_date=now - timezone.timedelta(days=index + 1)
        )
    client = staff_client_as(owner)
    html = client.get(f"/communications/customers/{customer.pk}/timeline/").content.decode()
    assert "Customer created" in html and "Call 00" in html and 'data-testid="timeline-older"' in html
    merged = client.get(f"/customers/{customer.pk}/?tab=timeline").content.decode()
    assert 'data-kind="communications"' in merged


def test_another_tenants_ids_are_404_on_every_page(owner, outsider, staff_client_as):
    customer = make_customer(owner)
    comm = make_communication(owner, customer)
    with tenant_scope(owner.tenant):
        follow_up = make_communication(
            owner, customer, next_action="x", next_action_due=timezone.localdate()
        ).follow_ups.get()
    client = staff_client_as(outsider)
    for url in (
        f"/communications/customers/{customer.pk}/list/",
        f"/communications/customers/{customer.pk}/timeline/",
        f"/communications/{comm.pk}/",
        f"/communications/{comm.pk}/edit/",
    ):
        assert_page_not_found(client, url)
    for url in (
        f"/communications/customers/{customer.pk}/log/",
        f"/communications/{comm.pk}/delete/",
        f"/communications/{comm.pk}/sentiment/",
        f"/communications/follow-ups/{follow_up.pk}/done/",
    ):
        assert_page_not_found(client, url, methods=("post",))
    with tenant_scope(owner.tenant):
        assert Communication.objects.alive().count() == 2


def test_a_viewer_sees_the_tab_without_the_form_and_cannot_log(owner, make_user, staff_client_as):
    viewer = make_user("viewer")
    customer = make_customer(owner)
    client = staff_client_as(viewer)
    html = client.get(tab_url(customer)).content.decode()
    assert 'data-testid="customer-communications"' in html and 'data-testid="comm-form"' not in html
    assert client.post(f"/communications/customers/{customer.pk}/log/", FORM).status_code == 403
    with tenant_scope(owner.tenant):
        assert not Communication.objects.exists()


def test_tab_query_budget(owner, staff_client_as):
    customer = make_customer(owner)
    for index in range(10):
        make_communication(owner, customer, contact=make_contact(owner, customer), content=f"满意 {index}")
    client = staff_client_as(owner)
    client.get(tab_url(customer))
    with query_budget(13):
        assert client.get(tab_url(customer)).status_code == 200


def test_a_csm_cannot_delete_from_the_page(owner, teammate, staff_client_as):
    customer = make_customer(owner, assigned_manager=teammate)
    comm = make_communication(owner, customer)
    assert staff_client_as(teammate).post(f"/communications/{comm.pk}/delete/").status_code == 403
    with tenant_scope(owner.tenant):
        assert Communication.objects.alive().filter(pk=comm.pk).exists()


def test_a_csm_does_not_see_communications_of_customers_not_theirs(owner, teammate, make_user, staff_client_as):
    customer = make_customer(owner, assigned_manager=make_user("csm"))
    comm = make_communication(owner, customer)
    client = staff_client_as(teammate)
    assert_page_not_found(client, f"/communications/{comm.pk}/")
    assert_page_not_found(client, f"/communications/customers/{customer.pk}/log/", methods=("post",))
