"""Shared test helpers every app uses: envelope shape, tenant isolation, query budgets, API clients."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

ENVELOPE_KEYS = {"code", "message", "data", "timestamp", "trace_id"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def assert_envelope(response, status: int, *, code: int | None = None) -> Any:
    """Assert the answer is the PRD envelope with this HTTP status (and business code); return `data`."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == ENVELOPE_KEYS, body
    assert isinstance(body["message"], str) and body["message"], body
    assert _TIMESTAMP.match(body["timestamp"]), body["timestamp"]
    assert body["trace_id"] and body["trace_id"] == response["X-Request-ID"], body
    expected_code = code if code is not None else (status if status < 400 else None)
    if expected_code is not None:
        assert body["code"] == expected_code, body
    return body["data"]


def api_client_for(user=None) -> APIClient:
    """An API client that authenticates like a real caller: a JWT bearer token, no shortcut."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def assert_api_not_found(
    client: APIClient,
    url: str,
    *,
    methods: Iterable[str] = ("get",),
    code: int | None = None,
    payload: dict | None = None,
) -> None:
    """An object the caller may not see answers 404 in the envelope, exactly like a missing one."""
    for method in methods:
        response = getattr(client, method)(url, payload or {}, format="json") if method != "get" else client.get(url)
        assert_envelope(response, status=404, code=code)


def assert_page_not_found(client, url: str, *, methods: Iterable[str] = ("get",)) -> None:
    """Staff page variant of the isolation check: another tenant's (or invisible) object is a 404 page."""
    for method in methods:
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)


def assert_isolated(
    *, url: str, owner_client, outsider_client, api: bool, methods: Iterable[str] = ("get",), code: int | None = None
) -> None:
    """The owner reaches the URL; the outsider (other tenant or no visibility) gets 404 like a missing id."""
    first = next(iter(methods))
    owner_response = owner_client.get(url) if first == "get" else getattr(owner_client, first)(url)
    assert owner_response.status_code < 400, (url, owner_response.status_code)
    if api:
        assert_api_not_found(outsider_client, url, methods=methods, code=code)
    else:
        assert_page_not_found(outsider_client, url, methods=methods)


@contextmanager
def query_budget(limit: int):
    """Fail when the block runs more than `limit` SQL queries (catches N+1 at once)."""
    with CaptureQueriesContext(connection) as ctx:
        yield ctx
    executed = len(ctx.captured_queries)
    assert executed <= limit, f"{executed} queries > budget {limit}:\n" + "\n".join(
        q["sql"][:200] for q in ctx.captured_queries
    )


# --- Route walks: every route from the URL resolver, with the ids of one tenant's objects ---------------------------
#
# A walk test (crm_project/tests/test_route_walks.py) calls every route that takes an object id with the ids of
# objects of tenant A. Two registries say where the ids come from:
#
# * `WORLD_OBJECTS["customer"] = lambda world: make_customer(world.owner)` builds one object of tenant A (a builder
#   may ask the world for others: `world["customer"]`); builders run inside tenant A's scope, once per test.
# * `ROUTE_KWARGS["customer_id"] = "customer"` maps a URL keyword to a world object (its pk) or to a callable
#   `fn(world) -> value`. Keys are tried from the most specific: "namespace:url_name.kwarg", "namespace:kwarg",
#   "kwarg" (staff URLs reuse `pk` for different objects, so `customers:pk` and `contracts:pk` differ).
#
# Each app registers its own entries in `<app>/tests/isolation.py` (imported by `load_route_registries()`); a new
# app's route with an unknown keyword fails the walk with a message naming the keyword to add.
WORLD_OBJECTS: dict[str, Callable[[World], Any]] = {}
ROUTE_KWARGS: dict[str, str | Callable[[World], Any]] = {}
# Request bodies for walks where `{}` would be refused before the object is looked up: "url_name.METHOD" -> body.
ROUTE_BODIES: dict[str, dict] = {}


def register_world_objects(mapping: dict[str, Callable[[World], Any]]) -> None:
    WORLD_OBJECTS.update(mapping)


def register_route_kwargs(mapping: dict[str, str | Callable[[World], Any]]) -> None:
    ROUTE_KWARGS.update(mapping)


class World:
    """One object of each kind for a tenant, built lazily from `WORLD_OBJECTS` (inside the tenant's scope)."""

    def __init__(self, tenant, owner):
        self.tenant = tenant
        self.owner = owner
        self._objects: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._objects:
            from accounts.tenancy import tenant_scope

            if name not in WORLD_OBJECTS:
                raise KeyError(f"no builder for world object {name!r}: register_world_objects({{{name!r}: ...}})")
            with tenant_scope(self.tenant):
                self._objects[name] = WORLD_OBJECTS[name](self)
        return self._objects[name]


@dataclass
class Route:
    """A route found by walking the URL resolver."""

    template: str  # "api/v1/customers/<int:customer_id>"
    name: str  # "customers:customer_detail", or "" for an unnamed route
    callback: Any
    kwargs: list[str] = field(default_factory=list)
    regex: bool = False

    @property
    def namespace(self) -> str:
        return self.name.rsplit(":", 1)[0] if ":" in self.name else ""

    @property
    def url_name(self) -> str:
        return self.name.rsplit(":", 1)[-1]

    @property
    def view_class(self):
        return getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None)

    @property
    def is_api(self) -> bool:
        return self.template.startswith("api/")

    def kwarg_value(self, kwarg: str, world: World) -> Any:
        for key in (f"{self.name}.{kwarg}", f"{self.namespace}:{kwarg}" if self.namespace else None, kwarg):
            if key and key in ROUTE_KWARGS:
                source = ROUTE_KWARGS[key]
                return source(world) if callable(source) else world[source].pk
        raise LookupError(
            f"route {self.template!r} ({self.name}) takes the URL keyword {kwarg!r}, which the walk tests do not "
            f"know: register it in <app>/tests/isolation.py, e.g. register_route_kwargs({{{kwarg!r}: 'thing'}}) "
            "with register_world_objects({'thing': lambda world: make_thing(world.owner)})"
        )

    def url(self, world: World) -> str:
        values = {kwarg: self.kwarg_value(kwarg, world) for kwarg in self.kwargs}
        return "/" + _ROUTE_PARAM.sub(lambda match: str(values[match.group(2)]), self.template)


_ROUTE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def iter_routes(resolver=None, prefix: str = "", namespace: str = "") -> list[Route]:
    """Every route of the URL configuration (regex routes flagged: they cannot be filled in)."""
    from django.urls import URLResolver, get_resolver
    from django.urls.resolvers import RegexPattern

    resolver = resolver or get_resolver()
    routes: list[Route] = []
    for pattern in resolver.url_patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            routes.extend(iter_routes(pattern, text, inner))
            continue
        name = f"{namespace}:{pattern.name}" if namespace and pattern.name else (pattern.name or "")
        regex = isinstance(pattern.pattern, RegexPattern) or "^" in text
        kwargs = [] if regex else [match.group(2) for match in _ROUTE_PARAM.finditer(text)]
        routes.append(Route(template=text, name=name, callback=pattern.callback, kwargs=kwargs, regex=regex))
    return routes


def load_route_registries() -> None:
    """Import `<app>/tests/isolation.py` of every project app, where each registers its objects and keywords."""
    from django.apps import apps
    from django.conf import settings

    base = str(settings.BASE_DIR)
    for config in apps.get_app_configs():
        if not str(config.path).startswith(base):
            continue
        try:
            importlib.import_module(f"{config.name}.tests.isolation")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.tests.isolation" and exc.name != f"{config.name}.tests":
                raise


def _accounts_notification(world: World):
    from accounts.models import Notification

    return Notification.objects.create(recipient=world.owner, kind="walk", message="walk")


register_world_objects({"notification": _accounts_notification, "user": lambda world: world.owner})
register_route_kwargs({"notification_id": "notification", "accounts:pk": "notification", "user_id": "user"})
