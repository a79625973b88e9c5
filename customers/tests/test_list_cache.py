"""The cached list pages and totals are never served stale (issue 16: Redis cache for hot reads).

Each test first reads the list (so its page and total are cached), changes something the answer shows through one
of the write paths (API, service, admin, staff page, `queryset.update()`), and reads again: the next answer shows
the change. Access works the same way: a user who lost access to a customer no longer gets it from a cached page.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts.tenancy import tenant_scope
from crm_project.testing import assert_envelope, query_budget
from customers import cache as list_cache
from customers import services
from customers.models import Customer, CustomerContact, CustomerUserObjectPermission
from customers.tests.factories import make_contact, make_customer, reload

LIST = "/api/v1/customers?sort=customer_name,asc"


@pytest.fixture
def lead(make_user):
    return make_user(role="cs_lead", username="cachelead")


def names(client, url=LIST) -> list[str]:
    return [item["customer_name"] for item in assert_envelope(client.get(url), status=200)["items"]]


def total(client, url) -> int:
    return assert_envelope(client.get(url), status=200)["total"]


def test_second_read_is_served_from_the_cache(api_as, owner):
    make_customer(owner, customer_name="Alpha")
    client = api_as(owner)
    assert names(client) == ["Alpha"]
    with query_budget(1):  # the JWT user only: page, total, permissions and version come from the cache
        assert names(client) == ["Alpha"]


def test_api_update_shows_in_list_and_detail(api_as, owner):
    customer = make_customer(owner, customer_name="Alpha")
    client = api_as(owner)
    assert names(client) == ["Alpha"]
    assert_envelope(client.patch(f"/api/v1/customers/{customer.pk}", {"customer_name": "Beta"}, format="json"), 200)
    assert names(client) == ["Beta"]
    detail = assert_envelope(client.get(f"/api/v1/customers/{customer.pk}"), 200)
    assert detail["customer_info"]["customer_name"] == "Beta"


def test_service_update_and_delete_show_in_list(api_as, owner):
    customer = make_customer(owner, customer_name="Alpha")
    client = api_as(owner)
    assert names(client) == ["Alpha"]
    with tenant_scope(owner.tenant):
        services.customer_update(actor=owner, customer=customer, data={"industry": "金融"})
    items = assert_envelope(client.get(LIST), 200)["items"]
    assert items[0]["industry"] == "金融"
    with tenant_scope(owner.tenant):
        services.customer_delete(actor=owner, customer=reload(customer))
    assert names(client) == []
    assert total(client, "/api/v1/customers") == 0


def test_queryset_update_shows_in_list(api_as, owner):
    customer = make_customer(owner, customer_name="Alpha")
    client = api_as(owner)
    assert names(client) == ["Alpha"]
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=customer.pk).update(customer_name="Gamma", level=3)
    item = assert_envelope(client.get(LIST), 200)["items"][0]
    assert (item["customer_name"], item["level"]) == ("Gamma", 3)


def test_denormalised_figures_show_in_list(api_as, owner):
    customer = make_customer(owner, customer_name="Alpha")
    client = api_as(owner)
    url = "/api/v1/customers?sort=health_score,desc&health_score_min=50"
    assert total(client, url) == 0
    with tenant_scope(owner.tenant):
        services.customers_figures_set(field="health_score", values={customer.pk: 75})
    assert names(client, url) == ["Alpha"]


def test_admin_change_shows_in_list(api_as, owner, staff_client_as):
    from customers.tests.test_views import _admin_post_data

    customer = make_customer(owner, customer_name="Alpha")
    contact = make_contact(owner, customer, contact_name="Zhao", is_primary=True)
    client = api_as(owner)
    assert names(client) == ["Alpha"]
    response = staff_client_as(owner).post(
        f"/admin/customers/customer/{customer.pk}/change/",
        _admin_post_data(customer, contact, customer_name="Admin Renamed"),
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert names(client) == ["Admin Renamed"]


def test_contact_change_shows_in_contact_search(api_as, owner):
    customer = make_customer(owner, customer_name="Alpha")
    contact = make_contact(owner, customer, contact_name="Wang")
    client = api_as(owner)
    url = "/api/v1/customers?q=Li%20Lei"
    assert total(client, url) == 0
    assert_envelope(
        client.patch(
            f"/api/v1/customers/{customer.pk}/contacts/{contact.pk}", {"contact_name": "Li Lei"}, format="json"
        ),
        200,
    )
    assert names(client, url) == ["Alpha"]
    with tenant_scope(owner.tenant):
        CustomerContact.objects.filter(pk=contact.pk).update(contact_name="Han Meimei")  # no signal
    assert total(client, url) == 0


def test_tag_change_shows_in_tag_filter(api_as, owner):
    customer = make_customer(owner, customer_name="Alpha")
    client = api_as(owner)
    url = "/api/v1/customers?tag=VIP"
    assert total(client, url) == 0
    tag = assert_envelope(client.post(f"/api/v1/customers/{customer.pk}/tags", {"tag_name": "VIP"}, format="json"), 201)
    assert names(client, url) == ["Alpha"]
    assert_envelope(client.delete(f"/api/v1/customers/{customer.pk}/tags/{tag['tag_id']}"), 200)
    assert total(client, url) == 0


def test_owner_change_moves_the_customer_between_csm_lists(api_as, owner, make_user):
    first = make_user(role="csm", username="csm_first")
    second = make_user(role="csm", username="csm_second")
    customer = make_customer(owner, customer_name="Alpha", assigned_manager=first)
    first_client, second_client = api_as(first), api_as(second)
    assert names(first_client) == ["Alpha"] and names(second_client) == []
    with tenant_scope(owner.tenant):
        services.customer_reassign(actor=owner, customers=[customer], manager=second)
    assert names(first_client) == [] and names(second_client) == ["Alpha"]
    assert_envelope(first_client.get(f"/api/v1/customers/{customer.pk}"), status=404)


def test_manager_rename_shows_in_list(api_as, owner, teammate):
    make_customer(owner, customer_name="Alpha", assigned_manager=teammate)
    client = api_as(owner)
    assert assert_envelope(client.get(LIST), 200)["items"][0]["assigned_manager"]["id"] == teammate.pk
    teammate.display_name = "Renamed Manager"
    teammate.save()
    assert assert_envelope(client.get(LIST), 200)["items"][0]["assigned_manager"]["name"] == "Renamed Manager"


def test_lost_share_removes_the_customer_from_cached_pages(api_as, owner, teammate, lead):
    customer = make_customer(owner, customer_name="Shared")
    client = api_as(teammate)
    assert names(client) == []
    assert_envelope(
        api_as(lead).post(f"/api/v1/customers/{customer.pk}/shares", {"user_id": teammate.pk}, format="json"), 200
    )
    assert names(client) == ["Shared"]
    assert total(client, "/api/v1/customers") == 1
    assert_envelope(api_as(lead).delete(f"/api/v1/customers/{customer.pk}/shares/{teammate.pk}"), 200)
    assert names(client) == []
    assert total(client, "/api/v1/customers") == 0
    # Again, the share withdrawn with a queryset delete this time.
    with tenant_scope(owner.tenant):
        services.customer_share(actor=lead, customer=customer, user=teammate)
    assert names(client) == ["Shared"]
    CustomerUserObjectPermission.objects.filter(user=teammate).delete()
    assert names(client) == []


def test_demoted_user_no_longer_gets_the_all_customers_page(api_as, owner, make_user):
    from django.contrib.auth.models import Group

    lead = make_user(role="cs_lead", username="demoted")
    make_customer(owner, customer_name="Not theirs")
    client = api_as(lead)
    assert names(client) == ["Not theirs"]
    lead.groups.set([Group.objects.get(name="csm")])
    assert names(client) == []


def test_other_tenants_writes_and_pages_stay_apart(api_as, owner, outsider):
    make_customer(owner, customer_name="Ours")
    make_customer(outsider, customer_name="Theirs")
    assert names(api_as(owner)) == ["Ours"]
    assert names(api_as(outsider)) == ["Theirs"]


def test_masked_and_unmasked_pages_are_cached_apart(api_as, owner, make_user):
    make_customer(owner, customer_name="Alpha")
    viewer = make_user(role="viewer", username="cacheviewer")
    owner_item = assert_envelope(api_as(owner).get(LIST), 200)["items"][0]
    viewer_item = assert_envelope(api_as(viewer).get(LIST), 200)["items"][0]
    assert owner_item["ltv"] != "***"
    assert viewer_item["ltv"] == "***"


@pytest.mark.django_db(transaction=True)
def test_a_write_bumps_the_version_again_when_its_transaction_commits(owner):
    tenant_id = owner.tenant_id
    before = list_cache.customers_version(tenant_id)
    with transaction.atomic():
        with tenant_scope(owner.tenant):
            make_customer(owner, customer_name="Alpha")
            make_customer(owner, customer_name="Beta")
        during = list_cache.customers_version(tenant_id)
        pending = [
            callback
            for _savepoints, callback, _robust in transaction.get_connection().run_on_commit
            if getattr(callback, "crm_customers_tenant", None) == tenant_id
        ]
    after = list_cache.customers_version(tenant_id)
    assert during > before  # at once, for reads inside the transaction
    assert after == during + 1  # and once more after the commit: a page cached in between is retired
    assert len(pending) == 1  # one commit-time bump per tenant, however many rows were written


def test_deep_pages_use_the_same_number_of_queries(api_as, owner):
    for index in range(30):
        make_customer(owner, customer_name=f"Deep {index:02d}", status=2)
    client = api_as(owner)
    client.get("/api/v1/customers?status=2&sort=health_score,desc&size=5&page=1")  # permissions, total
    # user, the page's ids, the page's rows (deferred join); total and permissions cached
    with query_budget(3):
        first = assert_envelope(client.get("/api/v1/customers?status=2&sort=health_score,desc&size=5&page=2"), 200)
    with query_budget(3):
        last = assert_envelope(client.get("/api/v1/customers?status=2&sort=health_score,desc&size=5&page=6"), 200)
    assert len(first["items"]) == len(last["items"]) == 5
    assert not {item["customer_id"] for item in first["items"]} & {item["customer_id"] for item in last["items"]}
    past = assert_envelope(client.get("/api/v1/customers?status=2&sort=health_score,desc&size=5&page=7"), 200)
    assert past["items"] == [] and past["total"] == 30


def test_deferred_join_keeps_the_order(api_as, owner):
    for index, score in enumerate([40, 90, 10, 90, 70]):
        customer = make_customer(owner, customer_name=f"Order {index}", status=2)
        with tenant_scope(owner.tenant):
            services.customers_figures_set(field="health_score", values={customer.pk: score})
    client = api_as(owner)
    pages = [
        assert_envelope(client.get(f"/api/v1/customers?sort=health_score,desc&size=2&page={page}"), 200)["items"]
        for page in (1, 2, 3)
    ]
    scores = [item["health_score"] for page in pages for item in page]
    ids = [item["customer_id"] for page in pages for item in page]
    assert scores == [90, 90, 70, 40, 10]
    assert ids[0] > ids[1]  # ties broken by id, descending like the sort


def test_staff_list_follows_writes_and_keeps_its_query_count(owner, staff_client_as):
    for index in range(30):
        make_customer(owner, customer_name=f"Staff {index:02d}", status=2)
    client = staff_client_as(owner)
    url = "/customers/?status=2&sort=customer_name&page={page}"
    assert "Staff 00" in client.get(url.format(page=1)).content.decode()
    client.get(url.format(page=2))
    with query_budget(12) as first:
        page = client.get(url.format(page=2)).content.decode()
    queries = len(first.captured_queries)
    assert "Staff 25" in page and "Staff 24" not in page
    with tenant_scope(owner.tenant):
        Customer.objects.filter(customer_name="Staff 29").update(customer_name="Staff 99 renamed")
    page = client.get(url.format(page=2)).content.decode()
    assert "Staff 99 renamed" in page
    with query_budget(queries):  # the same again once the new total is cached
        client.get(url.format(page=2))
