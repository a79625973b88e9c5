"""Everything a portal user does is audited: every portal route from the URL resolver, called by a signed-in portal
user, writes exactly one audit row naming the account, its contact and customer, the view and the URL's ids, the
method and status, the IP address and user agent. Staff see the activity on the customer's portal tab."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope, unscoped
from crm_project.testing import load_route_registries, query_budget
from customers.tests.factories import make_customer
from portal.services import REQUEST_ACTIONS
from portal.tests.factories import make_account, portal_client
from portal.tests.test_isolation_walk import PUBLIC, _portal_routes, _world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _registries():
    load_route_registries()


AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) PortalAuditTest"
DOWNLOADS = {"portal:bill_pdf", "portal:report_download"}


def _rows():
    with unscoped("test reads every audit row"):
        return list(AuditLog.objects.order_by("id"))


def _request(client, method, url):
    """One request; returns (status, the audit rows it wrote). Side effects are rolled back."""
    with transaction.atomic():
        before = {row.pk for row in _rows()}
        response = client.generic(method, url, HTTP_USER_AGENT=AGENT, REMOTE_ADDR="203.0.113.7")
        written = [row for row in _rows() if row.pk not in before]
        transaction.set_rollback(True)
    return response.status_code, written


def test_every_portal_page_writes_one_audit_row_per_request_with_who_what_when_and_where(owner):
    world = _world(owner)
    account = world["portal_account"]
    client = portal_client(Client(), account)
    routes = [route for route in _portal_routes() if route.name not in PUBLIC]
    assert len(routes) >= 15
    failures = []
    for route in routes:
        url = route.url(world)
        status, written = _request(client, "GET", url)
        requests = [row for row in written if row.action in REQUEST_ACTIONS.values()]
        if len(written) != 1 or len(requests) != 1:
            failures.append(f"GET {url} ({status}): {len(written)} audit rows {[row.action for row in written]}")
            continue
        row = requests[0]
        facts = {name: change["new"] for name, change in row.changes.items()}
        expected_action = REQUEST_ACTIONS["download" if route.name in DOWNLOADS and status == 200 else "read"]
        if status == 405:
            expected_action = REQUEST_ACTIONS["read"]
        problems = [
            (row.action, expected_action) if row.action != expected_action else None,
            ("tenant", row.tenant_id) if row.tenant_id != owner.tenant_id else None,
            ("object", row.object_type, row.object_id)
            if (row.object_type, row.object_id) != ("portal.portalaccount", str(account.pk))
            else None,
            ("actor", row.actor_name, row.actor_id)
            if (row.actor_name, row.actor_id) != (account.get_username(), None)
            else None,  # fmt: skip
            ("customer", facts.get("customer")) if facts.get("customer") != account.customer_id else None,
            ("contact", facts.get("contact")) if facts.get("contact") != account.contact_id else None,
            ("view", facts.get("view")) if facts.get("view") != route.name else None,
            ("status", facts.get("status")) if facts.get("status") != status else None,
            ("ids", facts) if any(facts.get(k) != str(route.kwarg_value(k, world)) for k in route.kwargs) else None,
            ("where", row.ip_address, row.user_agent)
            if (row.ip_address, row.user_agent) != ("203.0.113.7", AGENT)
            else None,  # fmt: skip
        ]
        problems = [problem for problem in problems if problem]
        if problems:
            failures.append(f"GET {url}: {problems}")
    assert not failures, "\n".join(failures)


def test_a_form_sent_and_a_refused_id_are_on_record_too(owner):
    world = _world(owner)
    account = world["portal_account"]
    client = portal_client(Client(), account)
    status, written = _request(client, "POST", "/portal/feedback/")  # an empty form: shown again with errors
    assert status == 200
    assert [row.action for row in written] == [REQUEST_ACTIONS["write"]]
    assert written[0].changes["method"]["new"] == "POST"
    # Another customer's ticket id answers 404 and the attempt is recorded with its id.
    with tenant_scope(owner.tenant):
        neighbour = make_customer(owner, customer_name="Audit neighbour Ltd")
    intruder = make_account(owner, neighbour, email="audit.intruder@example.com")
    other = portal_client(Client(), intruder)
    ticket = world["portal_ticket"]
    status, written = _request(other, "GET", f"/portal/tickets/{ticket.pk}/")
    assert status == 404
    assert len(written) == 1
    facts = {name: change["new"] for name, change in written[0].changes.items()}
    assert (facts["status"], facts["ticket_id"], facts["customer"]) == (404, str(ticket.pk), neighbour.pk)


def test_a_sent_request_writes_its_own_change_rows_besides_the_request_row(owner):
    world = _world(owner)
    client = portal_client(Client(), world["portal_account"])
    with transaction.atomic():
        before = len(_rows())
        response = client.post("/portal/feedback/", {"form": "suggestion", "body": "更多报表"})
        actions = [row.action for row in _rows()[before:]]
        transaction.set_rollback(True)
    assert response.status_code == 302
    assert actions.count(REQUEST_ACTIONS["write"]) == 1 and "crm.portal.suggestion_sent" in actions


def test_staff_see_the_customers_portal_activity_on_the_portal_tab(owner, make_user):
    world = _world(owner)
    account = world["portal_account"]
    client = portal_client(Client(), account)
    client.get("/portal/bills/", HTTP_USER_AGENT=AGENT)
    client.get(f"/portal/tickets/{world['portal_ticket'].pk}/", HTTP_USER_AGENT=AGENT)
    staff = Client()
    staff.force_login(owner)
    staff.cookies["django_language"] = "en"
    url = f"/customers/{account.customer_id}/?tab=portal"
    with query_budget(60):
        page = staff.get(url, HTTP_HX_REQUEST="true")
    body = page.content.decode()
    assert page.status_code == 200 and "Portal activity" in body
    assert "portal:bills" in body and "portal:ticket_detail" in body and "PortalAuditTest" in body
    assert f"ticket_id={world['portal_ticket'].pk}" in body
    # A viewer reads the tab but not the activity (contacts' addresses and browsers).
    viewer = Client()
    viewer.force_login(make_user(role="viewer", username="tab_viewer"))
    viewer_page = viewer.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "portal:bills" not in viewer_page and 'data-testid="portal-activity"' not in viewer_page


def test_the_request_audit_costs_one_insert_and_no_other_query(owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    world = _world(owner)
    client = portal_client(Client(), world["portal_account"])
    url = f"/portal/tickets/{world['portal_ticket'].pk}/"
    client.get(url)  # warm up (session, caches)
    with CaptureQueriesContext(connection) as audited:
        assert client.get(url).status_code == 200
    audit_queries = [q["sql"] for q in audited.captured_queries if "audit_logs" in q["sql"]]
    assert len(audit_queries) == 1 and audit_queries[0].lstrip().upper().startswith("INSERT")
