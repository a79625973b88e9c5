"""Shared test helpers every app uses: envelope shape, tenant isolation, query budgets, API clients."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from contextlib import contextmanager
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
