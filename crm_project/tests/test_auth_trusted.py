"""What a trusted system checks of authentication (issue 15, "Tests that a trusted system runs", auth part).

Covered elsewhere and not repeated here: JWT `alg: none`, another key, refresh reuse (accounts/tests/test_auth.py),
tokens after a password change (accounts/tests/test_revocation.py), forged id_tokens and callback abuse
(accounts/tests/test_oidc.py), `check --deploy` with production settings (test_security_headers.py).

Here:
* JWT expired, and after sign-out (access and refresh) → 401.
* Lockout 429 on every sign-in path: staff form, JWT, portal, OIDC callback, second-factor step; the Django admin
  has no password form of its own (it sends to the staff sign-in page).
* Mass assignment: every request body of every write operation (from the OpenAPI schema, i.e. the URL resolver)
  names no tenant / role / privilege / computed-score field; owner-like fields refuse another tenant's user; a
  walk of every API write route with injected tenant, role, score and owner values changes none of them.
* CSRF: every session POST (staff pages, portal pages, admin, session-authenticated API) without the token → 403.
* Step-up on the sensitive actions of other apps: pages redirect to the prompt, session API callers get 403/40301,
  JWT callers are exempt.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import oidc, stepup, totp
from accounts.models import User
from accounts.tenancy import tenant_scope, unscoped
from accounts.tests.factories import UserFactory
from crm_project.api import codes
from crm_project.testing import ROUTE_BODIES, World, api_client_for, assert_envelope, iter_routes, load_route_registries
from crm_project.tests.test_route_walks import PORTAL_PUBLIC_PAGES, PUBLIC_API, PUBLIC_PAGES, UNWALKABLE, _signed

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module", autouse=True)
def _registries():
    load_route_registries()


def _world(tenant, owner) -> World:
    from crm_project.testing import WORLD_OBJECTS

    world = World(tenant, owner)
    for name in WORLD_OBJECTS:
        world[name]
    return world


def _pair(client, user, password) -> dict:
    response = client.post(
        "/api/v1/auth/token", {"username": user.username, "password": password}, content_type="application/json"
    )
    return assert_envelope(response, 200)


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- JWT --------------------------------------------------------------------------------------------------------------
def test_expired_access_token_is_401(client, teammate, password):
    pair = _pair(client, teammate, password)
    assert_envelope(_bearer(pair["access"]).get("/api/v1/notifications"), 200)
    later = timezone.now() + settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] + timedelta(seconds=5)
    with time_machine.travel(later, tick=False):
        response = _bearer(pair["access"]).get("/api/v1/notifications")
    assert_envelope(response, 401, code=codes.NOT_AUTHENTICATED)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_tokens_are_dead_after_sign_out(client, teammate, password):
    pair = _pair(client, teammate, password)
    other = _pair(client, teammate, password)  # another device stays signed in
    api = _bearer(pair["access"])
    assert_envelope(api.post("/api/v1/auth/logout", {"refresh": pair["refresh"]}, format="json"), 200)
    assert_envelope(api.get("/api/v1/notifications"), 401, code=codes.NOT_AUTHENTICATED)
    refresh = client.post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, content_type="application/json")
    assert refresh.status_code == 401
    assert_envelope(_bearer(other["access"]).get("/api/v1/notifications"), 200)


def test_sign_out_cannot_end_someone_elses_refresh_token(client, teammate, owner, password):
    mine = _pair(client, teammate, password)
    theirs = _pair(client, owner, password)
    _bearer(mine["access"]).post("/api/v1/auth/logout", {"refresh": theirs["refresh"]}, format="json")
    refresh = client.post("/api/v1/auth/token/refresh", {"refresh": theirs["refresh"]}, content_type="application/json")
    assert_envelope(refresh, 200)


# --- Lockout on every sign-in path ---------------------------------------------------------------------------------
def _staff_form(client, user, password):
    return client.post("/accounts/login/", {"username": user.username, "password": password})


def _jwt(client, user, password):
    return client.post(
        "/api/v1/auth/token", {"username": user.username, "password": password}, content_type="application/json"
    )


def _admin(client, user, password):
    return client.post("/admin/login/", {"username": user.username, "password": password})


def _portal(client, user, password):
    return client.post("/portal/login/", {"email": user.email, "password": password})


def _oidc_callback(client, user, password):
    return client.get("/accounts/sso/callback/", {"code": "guess", "state": password})


@pytest.mark.parametrize(
    ("path", "attempts"),
    [
        (_staff_form, settings.AXES_FAILURE_LIMIT),
        (_jwt, settings.AXES_FAILURE_LIMIT),
        (_portal, 5),
        (_oidc_callback, oidc.FAILURE_LIMIT),
    ],
    ids=["staff-form", "jwt", "portal", "oidc-callback"],
)
def test_every_sign_in_path_locks_out_with_429(path, attempts, owner):
    client = Client()
    statuses = [path(client, owner, "wrong-password").status_code for _attempt in range(attempts + 1)]
    assert 429 not in statuses[: attempts - 1], statuses
    assert statuses[-1] == 429, statuses


def test_admin_has_no_password_form_of_its_own(owner, password):
    """The admin's sign-in sends to the staff sign-in page (locked out like it, with the second factor)."""
    client = Client()
    for attempt in (password, "wrong-password"):
        response = _admin(client, owner, attempt)
        assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
        assert "_auth_user_id" not in client.session
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    assert client.get("/admin/login/?next=https://evil.example/")["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        _staff_form(client, owner, "wrong-password")
    assert _staff_form(client, owner, password).status_code == 429


def test_second_factor_step_locks_out_with_429(teammate, password):
    secret = totp.new_secret()
    totp.enroll(teammate, secret, pyotp.TOTP(secret).at(time.time() - 30))
    client = Client()
    _staff_form(client, teammate, password)
    statuses = [
        client.post("/accounts/login/verify/", {"code": "000000"}).status_code for _ in range(totp.FAILURE_LIMIT)
    ]
    assert statuses[-1] == 429 and 429 not in statuses[:-1], statuses


# --- Mass assignment ------------------------------------------------------------------------------------------------
# Request-body fields that no client may ever set: the tenant, roles and privileges, computed scores, authorship.
FORBIDDEN_FIELD = re.compile(
    r"^(tenant(_id)?|role|roles|groups|is_superuser|is_staff|user_permissions|created_by(_id)?|"
    r"health_score|overall_score|satisfaction_score|activity_score|financial_score|contract_score|risk_score|"
    r"sentiment_score|churn_probability|member_count)$"
)
# Fields named like a score that are a person's own answer, with the reason.
SCORE_INPUTS = {
    "score": "an NPS answer (0-10) or a sentiment correction typed by the user, not a computed score",
    "effectiveness_score": "the CSM's own rating of a finished success task",
}
# Fields naming a user that a caller may set: each must refuse a user of another tenant (checked below).
OWNER_FIELD = re.compile(r"^(owner(_id)?|assigned_manager(_id)?|assignee(_id)?|user_id|manager(_id)?)$")
# Owner-like names that hold no user reference, with the reason.
OWNER_TEXT = {
    "assignee": "service_records.assignee is the PRD's free-text handler name (varchar 100), not a user id",
}
# Valid bodies for POST operations with an owner-like field (PATCH operations use the field alone).
OWNER_BODIES = {
    "customer_list.POST": {"customer_name": "Mass assignment Ltd"},
    "customer_detail.PUT": {"customer_name": "Mass assignment Ltd"},
    "customer_share.POST": {},
}


def _schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _write_operations():
    """(route, METHOD, request-body property names) of every write operation, routes from the URL resolver."""
    schema = _schema()
    components = schema["components"]["schemas"]
    routes = {
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.template): route
        for route in iter_routes()
        if route.is_api and not route.regex
    }
    operations = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("post", "put", "patch"):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json") or next(iter(content.values()), {})
            ref = body.get("schema", {})
            target = components[ref["$ref"].split("/")[-1]] if "$ref" in ref else ref
            properties = {
                name
                for name, spec in (target.get("properties") or {}).items()
                if not (isinstance(spec, dict) and spec.get("readOnly"))
            }
            operations.append((routes[path], method.upper(), properties))
    return operations


def test_no_request_body_can_set_tenant_role_privilege_or_computed_scores():
    problems = []
    operations = _write_operations()
    assert len(operations) >= 40, len(operations)
    for route, method, fields in operations:
        for name in sorted(fields):
            if FORBIDDEN_FIELD.match(name) or (name.endswith("score") and name not in SCORE_INPUTS):
                problems.append(f"{method} {route.template}: `{name}` is writable")
    assert not problems, "\n".join(problems)


def test_owner_fields_refuse_another_tenants_user(tenant, owner, outsider):
    world = _world(tenant, owner)
    teammate = UserFactory(tenant=tenant, username="mass_lead", role="cs_lead")
    api = api_client_for(owner)
    checked, problems = 0, []
    for route, method, fields in _write_operations():
        for name in sorted(field for field in fields if OWNER_FIELD.match(field) and field not in OWNER_TEXT):
            key = f"{route.url_name}.{method}"
            if method == "PATCH":
                base = {}
            elif key in OWNER_BODIES or key in ROUTE_BODIES:
                base = OWNER_BODIES.get(key, ROUTE_BODIES.get(key))
            else:
                problems.append(f"{method} {route.template}: add a valid body for {key} to OWNER_BODIES")
                continue
            url = route.url(world)
            statuses = {}
            for who, user in (("outsider", outsider), ("teammate", teammate)):
                with transaction.atomic():
                    response = api.generic(
                        method, url, json.dumps({**base, name: user.pk}), content_type="application/json"
                    )
                    statuses[who] = response.status_code
                    transaction.set_rollback(True)
            checked += 1
            if statuses["outsider"] < 400 or statuses["outsider"] >= 500:
                problems.append(f"{method} {url} `{name}`=another tenant's user: {statuses['outsider']}, expected 4xx")
            if statuses["teammate"] >= 300:
                problems.append(
                    f"{method} {url} `{name}`=same-tenant user: {statuses['teammate']} (the body is not valid)"
                )
    assert checked >= 5, checked
    assert not problems, "\n".join(problems)


def test_injected_tenant_role_and_score_values_change_nothing(tenant, owner, other_tenant, outsider):
    """Every API write route × method, called by a tenant administrator with its walk body plus hostile fields."""
    world = _world(tenant, owner)
    customer = world["customer"]
    api = api_client_for(owner)
    hostile = {
        "tenant": other_tenant.pk,
        "tenant_id": other_tenant.pk,
        "role": "tenant_admin",
        "groups": [1, 2, 3],
        "is_superuser": True,
        "is_staff": True,
        "health_score": 1,
        "overall_score": 1,
        "created_by": outsider.pk,
        "owner": outsider.pk,
    }
    from django.apps import apps

    from accounts.tenancy import TenantOwnedModel

    owned = [model for model in apps.get_models() if issubclass(model, TenantOwnedModel)]

    def other_tenant_rows() -> int:
        with unscoped("count the other tenant's rows"):
            return sum(model._default_manager.filter(tenant=other_tenant).count() for model in owned)

    before_other = other_tenant_rows()
    problems, walked = [], 0
    for route in iter_routes():
        if not route.is_api or route.regex or route.template in UNWALKABLE or route.url_name in PUBLIC_API:
            continue
        if _signed(route):
            continue
        view = route.view_class()
        url = route.url(world)
        api = api_client_for(owner)  # fresh per route: `auth/logout` ends the token it is called with
        for method in ("POST", "PUT", "PATCH"):
            if not hasattr(view, method.lower()):
                continue
            body = {**ROUTE_BODIES.get(f"{route.url_name}.{method}", {}), **hostile}
            with transaction.atomic():
                response = api.generic(method, url, json.dumps(body), content_type="application/json")
                walked += 1
                where = f"{method} {url}: {response.status_code}"
                if response.status_code >= 500:
                    problems.append(f"{where} (server error)")
                if other_tenant_rows() != before_other:
                    problems.append(f"{where} wrote a row into another tenant")
                if User.objects.filter(is_superuser=True).exists():
                    problems.append(f"{where} made someone a superuser")
                if set(owner.groups.values_list("name", flat=True)) != {"tenant_admin"}:
                    problems.append(f"{where} changed a role")
                with tenant_scope(tenant):
                    fresh = type(customer).objects.filter(pk=customer.pk).values_list("health_score", flat=True).first()
                if fresh is not None and fresh == 1 and customer.health_score != 1:
                    problems.append(f"{where} set the health score")
                transaction.set_rollback(True)
    assert walked >= 40, walked
    assert not problems, "\n".join(problems)


# --- CSRF on every session form ----------------------------------------------------------------------------------
# Session POST routes that are deliberately exempt from CSRF, with the reason (none today).
CSRF_EXEMPT: dict[str, str] = {}


def test_every_session_post_without_the_csrf_token_is_403(tenant, owner):
    world = _world(tenant, owner)
    owner.is_superuser = False
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    anonymous = Client(enforce_csrf_checks=True)
    problems, walked = [], 0
    for route in iter_routes():
        if route.regex or route.template in UNWALKABLE or route.name in CSRF_EXEMPT:
            continue
        if route.template.startswith("admin/") and route.kwargs:
            continue  # object pages of the admin: the same views as their change lists, walked below
        if route.is_api:
            if route.url_name in PUBLIC_API or _signed(route):
                continue  # no session: credentials in the body or a signature
            view = route.view_class()
            methods = [m for m in ("POST", "PUT", "PATCH", "DELETE") if hasattr(view, m.lower())]
        else:
            methods = ["POST"]
        url = route.url(world)
        public = route.name in PUBLIC_PAGES or route.name in PORTAL_PUBLIC_PAGES
        for method in methods:
            for caller in (client, anonymous) if public else (client,):
                with transaction.atomic():
                    status = caller.generic(method, url).status_code
                    transaction.set_rollback(True)
                walked += 1
                # 405: the route takes no POST at all (then there is no form to forge).
                if status not in (403, 405):
                    problems.append(f"{method} {url}: {status}, expected 403 without a CSRF token")
    assert walked >= 150, walked
    assert not problems, "\n".join(problems)


# --- Step-up on other apps' sensitive actions ------------------------------------------------------------------------
@pytest.fixture
def enrolled_owner(owner):
    secret = totp.new_secret()
    totp.enroll(owner, secret, pyotp.TOTP(secret).at(time.time() - 30))
    owner.totp_secret = secret
    return owner


def _stale_session_client(user) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session[stepup.SESSION_STEP_UP_AT] = time.time() - settings.STEP_UP_WINDOW_SECONDS - 5
    session.save()
    return client


def test_sensitive_pages_ask_for_the_second_factor_again(tenant, enrolled_owner):
    world = _world(tenant, enrolled_owner)
    client = _stale_session_client(enrolled_owner)
    customer = world["customer"]
    for method, url in [
        ("get", "/customers/export/?format=csv"),
        ("get", "/contracts/export/"),
        ("get", "/contracts/renewals/export/"),
        ("post", f"/customers/{customer.pk}/delete/"),
        ("post", "/admin/accounts/user/add/"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/step-up/"), (url, response)
    with tenant_scope(tenant):
        assert type(customer).objects.filter(pk=customer.pk, deleted_at__isnull=True).exists()
    # After the code, the same action goes through.
    client.post("/accounts/step-up/", {"code": pyotp.TOTP(enrolled_owner.totp_secret).now()})
    assert client.get("/customers/export/?format=csv").status_code == 200
    assert client.post(f"/customers/{customer.pk}/delete/").status_code == 302
    with tenant_scope(tenant):
        assert not type(customer).objects.filter(pk=customer.pk, deleted_at__isnull=True).exists()


def _draft_contract(world):
    from datetime import date
    from decimal import Decimal

    from contracts import services as contract_services

    with tenant_scope(world.tenant):
        return contract_services.contract_create(
            actor=world.owner,
            customer=world["customer"],
            data={
                "contract_name": "Step-up draft",
                "contract_amount": Decimal("1000"),
                "start_date": date(2026, 1, 1),
                "end_date": date(2026, 12, 31),
            },
        )


def test_session_api_callers_get_403_step_up_and_jwt_callers_are_exempt(tenant, enrolled_owner):
    world = _world(tenant, enrolled_owner)
    customer = world["customer"]
    draft = _draft_contract(world)
    session_api = _stale_session_client(enrolled_owner)
    deleted = session_api.delete(f"/api/v1/customers/{customer.pk}")
    assert_envelope(deleted, 403, code=codes.STEP_UP_REQUIRED)
    assert "/accounts/step-up/" in deleted.json()["message"]
    url = f"/api/v1/contracts/{draft.pk}"
    amount = session_api.patch(url, json.dumps({"contract_amount": "2000.00"}), content_type="application/json")
    assert_envelope(amount, 403, code=codes.STEP_UP_REQUIRED)
    # The same amount, or another field, needs no step-up.
    same = session_api.patch(url, json.dumps({"contract_amount": "1000", "contract_name": "Renamed"}),
                             content_type="application/json")  # fmt: skip
    assert_envelope(same, 200)
    # The contract edit page asks for the prompt when the amount changes.
    page = session_api.post(f"/contracts/{draft.pk}/edit/", {"contract_amount": "3000"})
    assert page.status_code == 302 and page["Location"].startswith("/accounts/step-up/")
    with tenant_scope(tenant):
        draft.refresh_from_db()
    assert draft.contract_amount == 1000
    # A JWT client (a service) is not asked.
    jwt_client = api_client_for(enrolled_owner)
    assert_envelope(jwt_client.patch(url, {"contract_amount": "2500.00"}, format="json"), 200)
    assert_envelope(jwt_client.delete(f"/api/v1/customers/{customer.pk}"), 200)


def test_users_without_a_device_are_not_blocked_by_step_up(tenant, owner):
    client = _stale_session_client(owner)
    assert client.get("/customers/export/?format=csv").status_code == 200
