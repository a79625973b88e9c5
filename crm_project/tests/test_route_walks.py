"""Walks built from the URL resolver, so a new route cannot be forgotten (issue 8 item 2, issue 7 point 8).

* Every API route × every HTTP method × every role (and anonymous): a method no permission covers is refused,
  and a role without the permission never gets a 2xx.
* Every staff page × roles: anonymous callers are sent to the login page, nobody gets a 5xx, a viewer writes nothing.
* Every route that takes an object id, called by a user of another tenant with tenant A's ids: 404.

Objects and URL keywords come from the registries in crm_project/testing.py, filled by `<app>/tests/isolation.py`.
"""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import Client
from rest_framework.views import APIView

from accounts.models import AuditLog
from accounts.roles import ROLE_CODES
from accounts.tenancy import tenant_scope, unscoped
from accounts.tests.factories import UserFactory
from crm_project.api.permissions import RolePermission, implemented_methods, required_permissions, user_may
from crm_project.audit import ACCESS_PREFIX, EXPORT_PREFIX
from crm_project.testing import (
    ROUTE_BODIES,
    WORLD_OBJECTS,
    World,
    api_client_for,
    assert_envelope,
    iter_routes,
    load_route_registries,
)

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")

# API routes that are not guarded by roles, each with the reason. The walk fails when one disappears.
PUBLIC_API = {
    "token_obtain": "signs in with username and password",
    "token_refresh": "exchanges a refresh token; the token is the credential",
    "api-schema": "the OpenAPI document describes the API, it holds no data",
    "api-docs": "Swagger UI page for the schema",
}


def _signed(route) -> bool:
    """A system-to-system route: authenticated only by the tenant's HMAC key (accounts.integration), not a role."""
    from accounts.integration import IntegrationSignatureAuthentication

    view_class = route.view_class
    return bool(view_class) and list(getattr(view_class, "authentication_classes", ())) == [
        IntegrationSignatureAuthentication
    ]


# Routes that cannot be walked, each with the reason.
UNWALKABLE = {
    "api/v1/^.*$": "the catch-all that answers the 404 envelope for unknown API paths (tested on its own)",
}
# Staff routes reachable without signing in.
PUBLIC_PAGES = {
    "accounts:login": "the sign-in page",
    "accounts:logout": "signing out needs no session",
    "set_language": "the language switcher works before signing in",
    "healthz": "the load balancer's health check",
    "accounts:login_verify": "the second sign-in step (sends back to the sign-in page without a pending sign-in)",
    "accounts:oidc_login": "starts single sign-on: redirects to the tenant's identity provider",
    "accounts:oidc_callback": "the identity provider sends the browser back here before anyone is signed in",
}
# Customer-portal pages (namespace `portal`, issue 13) sign in portal accounts, never staff users: anonymous and
# staff callers are sent to /portal/login/ (checked below). Their isolation is walked with portal accounts of another
# customer and another tenant in portal/tests/test_isolation_walk.py, so the staff isolation walk skips them.
PORTAL_NAMESPACE = "portal"
PORTAL_PUBLIC_PAGES = {
    "portal:login": "the portal's sign-in page",
    "portal:login_code": "the second sign-in step (sends back to the sign-in page without a pending sign-in)",
    "portal:logout": "signing out needs no session",
    "portal:password_reset": "asks for a reset link",
    "portal:set_password": "the one-time link is the credential",
}
# Staff routes with an object id that another tenant cannot be sent to with tenant A's ids, with the reason.
ISOLATION_EXEMPT = {
    "customers:customer_import_preview": "`token` names an import file in the importer's own session folder, "
    "not a database row; tested in customers/tests/test_import_export.py",
    "customers:customer_import_errors": "same `token` as the import preview",
    "accounts:oidc_login": "`slug` names an identity provider on the public sign-in page (any visitor may start "
    "any tenant's single sign-on); tested in accounts/tests/test_oidc.py",
}
# Known server errors owned by another change (remove the entry with the fix). Route name -> methods.
# Routes allowed to answer 5xx for a method (none: a server error is always a bug).
KNOWN_SERVER_ERRORS: dict[str, set[str]] = {}


@pytest.fixture(scope="module", autouse=True)
def _registries():
    load_route_registries()


def _routes(*, api: bool):
    routes = [route for route in iter_routes() if route.is_api == api and not route.template.startswith("admin/")]
    return [route for route in routes if route.template not in UNWALKABLE]


def _changes():
    """Audit rows of changes: reads and exports are audited too (crm_project.audit.record_access), not changes."""
    return AuditLog.objects.exclude(action__startswith=ACCESS_PREFIX).exclude(action__startswith=EXPORT_PREFIX)


def _audit_count() -> int:
    with unscoped("count every audit row"):
        return _changes().count()


def _call(client, method: str, url: str, body: dict | None = None):
    """One request whose side effects are rolled back, so every call sees the same objects.

    `response.wrote` says whether it wrote an audit row (every change is audited), i.e. changed something.
    """
    with transaction.atomic():
        before = _audit_count()
        response = client.generic(method, url, json.dumps(body or {}), content_type="application/json")
        response.wrote = _audit_count() != before
        transaction.set_rollback(True)
    return response


def _world(tenant, owner) -> World:
    world = World(tenant, owner)
    for name in WORLD_OBJECTS:  # every kind of object exists, whether a route needs it or not
        world[name]
    return world


def test_allow_lists_name_existing_routes():
    names = {route.name for route in iter_routes()}
    templates = {route.template for route in iter_routes()}
    load_route_registries()
    for name in [*PUBLIC_API, *PUBLIC_PAGES, *PORTAL_PUBLIC_PAGES, *ISOLATION_EXEMPT, *KNOWN_SERVER_ERRORS]:
        assert name in names, f"{name} is allow-listed in test_route_walks.py but no longer exists: remove it"
    for template in UNWALKABLE:
        assert template in templates, f"{template} is allow-listed but no longer exists: remove it"


def test_every_api_method_is_covered_by_a_permission():
    """Static half: every handler of every API view is listed in `required_perms` of a RolePermission view."""
    problems = []
    for route in _routes(api=True):
        view_class = route.view_class
        assert view_class is not None and issubclass(view_class, APIView), f"{route.template} is not a DRF view"
        if route.url_name in PUBLIC_API or _signed(route):
            continue
        view = view_class()
        if not any(issubclass(permission, RolePermission) for permission in view.permission_classes):
            problems.append(f"{route.template}: {view_class.__name__} does not use RolePermission")
            continue
        for method in implemented_methods(view):
            if required_permissions(view, method) is None:
                problems.append(f"{route.template} {method}: no entry in {view_class.__name__}.required_perms")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", [*ROLE_CODES, "anonymous"])
def test_api_route_method_role_walk(role, tenant, owner):
    """Dynamic half: a role without the permission of a method never gets 2xx; anonymous always 401."""
    world = _world(tenant, owner)
    user = None if role == "anonymous" else UserFactory(tenant=tenant, username=f"walk_{role}", role=role)
    client = api_client_for(user)
    failures = []
    for route in _routes(api=True):
        if route.url_name in PUBLIC_API:
            continue
        url = route.url(world)
        view = route.view_class()
        if _signed(route):
            # No user token (whatever its role) opens a signed endpoint; only the tenant's HMAC key does.
            for method in implemented_methods(view):
                status = _call(client, method, url, ROUTE_BODIES.get(f"{route.url_name}.{method}")).status_code
                if status != 401:
                    failures.append(f"{method} {url} as {role}: {status}, expected 401 (signed endpoint)")
            continue
        for method in METHODS:
            if route.url_name == "token_logout":
                # `POST auth/logout` ends the token it is called with (a cache entry the rollback does not undo).
                client = api_client_for(user)
            response = _call(client, method, url, ROUTE_BODIES.get(f"{route.url_name}.{method}"))
            status = response.status_code
            where = f"{method} {url} as {role}: {status}"
            if status >= 500 and method not in KNOWN_SERVER_ERRORS.get(route.url_name, ()):
                failures.append(f"{where} (server error)")
                continue
            if status in (401, 403, 404, 405) and response.wrote:
                failures.append(f"{where} was refused but changed something (an audit row was written)")
            if user is None:
                if status != 401:
                    failures.append(f"{where}, expected 401")
                continue
            if method == "OPTIONS":
                allowed = any(
                    user_may(user, perms)
                    for perms in (required_permissions(view, name) for name in implemented_methods(view))
                    if perms is not None
                )
                if not allowed and status != 403:
                    failures.append(f"{where}, expected 403 (no method of the view is allowed)")
                continue
            handler = "get" if method == "HEAD" else method.lower()
            if not hasattr(view, handler) or handler not in view.http_method_names:
                if status != 405:
                    failures.append(f"{where}, expected 405 (no handler)")
                continue
            perms = required_permissions(view, method)
            if perms is None or not user_may(user, perms):
                if status != 403:
                    failures.append(f"{where}, expected 403 (lacks {perms})")
                elif method != "HEAD":
                    assert_envelope(response, 403, code=40004)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", [*ROLE_CODES, "anonymous"])
def test_staff_page_role_walk(role, tenant, owner):
    """Anonymous callers reach no staff page; no role gets a 5xx; a viewer's POSTs change nothing."""
    world = _world(tenant, owner)
    client = Client()
    user = None
    if role != "anonymous":
        user = UserFactory(tenant=tenant, username=f"walk_{role}", role=role)
        client.force_login(user)
    failures = []
    with unscoped("count every audit row"):
        audit_before = _changes().count()
    for route in _routes(api=False):
        if route.template.startswith("admin/") or route.regex:
            continue
        url = route.url(world)
        for method in ("GET", "POST"):
            with transaction.atomic():
                response = client.generic(method, url)
                if role == "viewer" and method == "POST" and route.name not in PUBLIC_PAGES:
                    with unscoped("count every audit row"):
                        if _changes().count() != audit_before:
                            failures.append(f"POST {url} as viewer wrote an audit row (a change)")
                transaction.set_rollback(True)
            status = response.status_code
            where = f"{method} {url} as {role}: {status}"
            if status >= 500:
                failures.append(f"{where} (server error)")
            elif route.namespace == PORTAL_NAMESPACE:
                # A staff session (or none) is not a portal session: every portal page but the public ones
                # sends to the portal's own sign-in page.
                if route.name in PORTAL_PUBLIC_PAGES:
                    continue
                if not (status == 405 or (status == 302 and response["Location"].startswith("/portal/login/"))):
                    failures.append(f"{where}, expected a redirect to the portal's sign-in page")
            elif user is None and route.name not in PUBLIC_PAGES:
                refused = status in (401, 403, 405) or (status == 302 and "/accounts/login/" in response["Location"])
                if not refused:
                    failures.append(f"{where}, expected a redirect to the login page")
    assert not failures, "\n".join(failures)


def test_every_object_route_is_isolated_between_tenants(tenant, owner, other_tenant):
    """Tenant B's administrator, given tenant A's ids, gets 404 on every route (API envelope or page)."""
    world = _world(tenant, owner)
    outsider = UserFactory(tenant=other_tenant, username="walk_outsider", role="tenant_admin", is_staff=True)
    api = api_client_for(outsider)
    pages = Client()
    pages.force_login(outsider)
    failures = []
    walked = 0
    for route in iter_routes():
        if not route.kwargs or route.template.startswith("admin/") or route.name in ISOLATION_EXEMPT:
            continue
        if route.namespace == PORTAL_NAMESPACE:  # walked with portal accounts (see PORTAL_NAMESPACE above)
            continue
        if route.is_api and (route.url_name in PUBLIC_API or _signed(route)):
            continue
        url = route.url(world)
        walked += 1
        if route.is_api:
            view = route.view_class()
            for method in implemented_methods(view):
                response = _call(api, method, url, ROUTE_BODIES.get(f"{route.url_name}.{method}"))
                if method in KNOWN_SERVER_ERRORS.get(route.url_name, ()) and response.status_code >= 500:
                    continue
                if response.status_code != 404:
                    failures.append(f"{method} {url}: {response.status_code}, expected 404")
                else:
                    assert_envelope(response, 404)
        else:
            statuses = {}
            for method in ("GET", "POST"):
                with transaction.atomic():
                    statuses[method] = pages.generic(method, url).status_code
                    transaction.set_rollback(True)
            # A method the page does not accept may answer 405; the other one must be a 404.
            if 404 not in statuses.values() or any(status not in (404, 405) for status in statuses.values()):
                failures.append(f"{url}: {statuses}, expected 404")
    assert walked >= 30, walked
    assert not failures, "\n".join(failures)
    with tenant_scope(tenant):
        assert world["contract"].__class__.objects.filter(pk=world["contract"].pk).exists()
