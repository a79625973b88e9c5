"""What a careless or hostile client can send answers 4xx/503 in the envelope, never a 500 (issue 8 item 7)."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError

from crm_project.api import codes
from crm_project.testing import api_client_for, assert_envelope


@pytest.fixture
def api(owner):
    client = api_client_for(owner)
    client.raise_request_exception = False
    return client


def test_options_describes_the_methods_the_caller_may_use(make_user):
    viewer = make_user(role="viewer")
    data = assert_envelope(api_client_for(viewer).options("/api/v1/customers"), 200)
    assert data["methods"] == ["GET"]
    assert "actions" not in data  # no field descriptions: the schema documents them


def test_body_over_the_upload_limit_is_413_in_the_envelope(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"customer_name": "x" * 5000})
    response = api.generic("POST", "/api/v1/customers", body, content_type="application/json")
    assert_envelope(response, 413, code=codes.PAYLOAD_TOO_LARGE)


def test_body_over_the_limit_without_a_content_length_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"customer_name": "x" * 5000}).encode()
    response = api.generic("POST", "/api/v1/customers", body, content_type="application/json", CONTENT_LENGTH="10")
    assert response.status_code in (400, 413)  # a lying length never reaches the parser unbounded


def test_json_nested_5000_deep_is_400(api):
    body = "[" * 5000 + "]" * 5000
    response = api.generic("POST", "/api/v1/customers", body, content_type="application/json")
    assert_envelope(response, 400, code=codes.VALIDATION_ERROR)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("/api/v1/customers?created_to=9999-12-31", 200),
        ("/api/v1/customers?created_from=0001-01-01", 200),
        ("/api/v1/customers?created_to=0001-01-01", 200),
        ("/api/v1/contracts?end_from=9999-12-31", 200),
        ("/api/v1/contracts?customer=-1e128", 400),
        ("/api/v1/contracts?customer=12345678901234567890123", 400),
        ("/api/v1/customers?assigned_manager_id=12345678901234567890123", 400),
        ("/api/v1/customers?assigned_manager_id=-1e128", 400),
        ("/api/v1/customers?created_from=10000-01-01", 400),
    ],
)
def test_filters_at_the_calendar_ends_and_huge_ids(api, query, status):
    data = assert_envelope(api.get(query), status)
    if status == 400:
        assert data["field"] in ("customer", "assigned_manager_id", "created_from")


@pytest.mark.parametrize("url", ["/customers/?created_to=9999-12-31", "/contracts/?customer=-1e128"])
def test_staff_lists_survive_the_same_filters(owner, staff_client_as, url):
    assert staff_client_as(owner).get(url).status_code == 200


@pytest.mark.parametrize(
    "error",
    [OperationalError("database is locked"), OperationalError(1205, "Lock wait timeout exceeded")],
    ids=["sqlite", "mysql"],
)
def test_locked_database_is_503_with_retry_after(api, owner, staff_client_as, monkeypatch, error):
    def locked(*args, **kwargs):
        raise error

    monkeypatch.setattr("customers.api.views.customer_list_queryset", locked)
    response = api.get("/api/v1/customers")
    assert_envelope(response, 503, code=codes.SERVICE_UNAVAILABLE)
    assert response["Retry-After"] == "5"
    monkeypatch.setattr("crm_project.views.Notification", type("Locked", (), {"objects": property(locked)})())
    page = staff_client_as(owner)
    page.raise_request_exception = False
    response = page.get("/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert b"database is busy" in response.content


def test_lock_waits_are_short(settings):
    options = settings.DATABASES["default"]["OPTIONS"]
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        assert options["timeout"] <= 5
    else:
        assert "innodb_lock_wait_timeout=10" in options["init_command"]


def test_post_with_a_bearer_token_to_an_unknown_api_path_is_a_404_envelope(owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    token = api_client_for(owner)._credentials["HTTP_AUTHORIZATION"]
    response = client.post("/api/v1/no-such-thing", "{}", content_type="application/json", HTTP_AUTHORIZATION=token)
    assert_envelope(response, 404, code=codes.NOT_FOUND)


def test_sort_with_too_many_parts_says_what_is_wrong(api):
    response = api.get("/api/v1/customers?sort=customer_name,desc,extra")
    assert_envelope(response, 400)
    message = response.json()["message"]
    assert "customer_name,desc,extra" in message and "got 'desc'" not in message
