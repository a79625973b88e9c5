"""Every portal route from the URL resolver, called by another customer's portal account with the ids of the
first customer's objects: 404 every time (same tenant, and another tenant). Anonymous callers and staff users
are sent to the portal's sign-in page; no route answers 5xx."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client

from accounts.tenancy import tenant_scope
from accounts.tests.factories import UserFactory
from crm_project.testing import World, iter_routes, load_route_registries
from customers.tests.factories import make_customer
from portal.tests.factories import make_account, portal_client

pytestmark = pytest.mark.django_db

# Portal routes reachable without a portal session, with the reason.
PUBLIC = {
    "portal:login": "the portal's sign-in page",
    "portal:login_code": "second sign-in step; without a pending sign-in it sends back to the sign-in page",
    "portal:logout": "signing out needs no session",
    "portal:password_reset": "asks for a reset link",
    "portal:set_password": "the one-time link is the credential",
}
# Routes with an id that is not a row of the customer, with the reason.
NOT_CUSTOMER_ROWS = {
    "portal:request_new": "`type_key` names a standard request type (code), the same for every customer",
    "portal:set_password": "`token` is a one-time secret: an unknown one answers 404 (tested in test_access)",
    "portal:kb_article": "knowledge-base articles are the tenant's, shared by all its customers; another "
    "tenant's id is walked below",
    "portal:diagnose_detail": "self-diagnosis checklists are the tenant's, like articles; another tenant's id "
    "is walked below",
}


def _portal_routes():
    load_route_registries()
    return [route for route in iter_routes() if route.namespace == "portal"]


def _world(owner):
    world = World(owner.tenant, owner)
    for name in ("customer", "portal_account", "portal_ticket", "invoice", "portal_report", "kb_article",
                 "kb_checklist", "success_goal", "success_milestone"):  # fmt: skip
        world[name]
    return world


def _statuses(client, url) -> dict[str, int]:
    statuses = {}
    for method in ("GET", "POST"):
        with transaction.atomic():
            statuses[method] = client.generic(method, url).status_code
            transaction.set_rollback(True)
    return statuses


def test_allow_lists_name_existing_routes():
    names = {route.name for route in _portal_routes()}
    assert set(PUBLIC) <= names and set(NOT_CUSTOMER_ROWS) <= names


def test_the_first_customer_reaches_its_own_objects(owner):
    world = _world(owner)
    client = portal_client(Client(), world["portal_account"])
    for route in _portal_routes():
        if route.kwargs and route.name not in NOT_CUSTOMER_ROWS:
            url = route.url(world)
            status = client.get(url).status_code
            assert status in (200, 405), (url, status)


def test_another_customers_portal_user_gets_404_on_every_id(owner, tenant):
    world = _world(owner)
    with_objects = [r for r in _portal_routes() if r.kwargs and r.name not in NOT_CUSTOMER_ROWS]
    assert len(with_objects) >= 5
    with tenant_scope(tenant):
        neighbour = make_customer(owner, customer_name="Neighbour Ltd")
    intruder = portal_client(Client(), make_account(owner, neighbour, email="intruder@example.com"))
    failures = []
    for route in with_objects:
        url = route.url(world)
        statuses = _statuses(intruder, url)
        if 404 not in statuses.values() or any(status not in (404, 405) for status in statuses.values()):
            failures.append(f"{url}: {statuses}, expected 404")
    assert not failures, "\n".join(failures)


def test_another_tenants_portal_user_gets_404_on_every_id(owner, other_tenant):
    world = _world(owner)
    stranger_owner = UserFactory(tenant=other_tenant, username="portal_walk_other", role="tenant_admin")
    stranger = portal_client(Client(), make_account(stranger_owner, email="stranger@example.com"))
    failures = []
    for route in _portal_routes():
        if not route.kwargs or route.name in ("portal:request_new", "portal:set_password"):
            continue
        url = route.url(world)
        statuses = _statuses(stranger, url)
        if 404 not in statuses.values() or any(status not in (404, 405) for status in statuses.values()):
            failures.append(f"{url}: {statuses}, expected 404")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("who", ["anonymous", "staff"])
def test_without_a_portal_session_every_page_sends_to_the_portal_sign_in(owner, who):
    world = _world(owner)
    client = Client()
    if who == "staff":
        client.force_login(owner)
    failures = []
    for route in _portal_routes():
        url = route.url(world)
        for method, status in _statuses(client, url).items():
            if status >= 500:
                failures.append(f"{method} {url}: {status}")
            elif route.name in PUBLIC:
                continue
            elif status != 405:
                with transaction.atomic():
                    response = client.generic(method, url)
                    transaction.set_rollback(True)
                if not (response.status_code == 302 and response["Location"].startswith("/portal/login/")):
                    failures.append(f"{method} {url} as {who}: {response.status_code}, expected the portal sign-in")
    assert not failures, "\n".join(failures)
