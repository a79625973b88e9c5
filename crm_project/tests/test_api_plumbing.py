import json
import logging
import time

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Notification
from accounts.tenancy import tenant_scope
from crm_project.api import codes
from crm_project.testing import assert_envelope, query_budget


def _notes(user, count):
    with tenant_scope(user.tenant):
        Notification.objects.bulk_create(
            Notification(recipient=user, kind=f"k{i % 3}", message=f"message {i}") for i in range(count)
        )


def test_call_without_credentials_is_401_with_challenge(client):
    response = client.get("/api/v1/notifications")
    assert_envelope(response, status=401, code=codes.NOT_AUTHENTICATED)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_api_path_answers_the_envelope_not_html(client):
    response = client.get("/api/v1/no-such-thing")
    assert_envelope(response, status=404, code=codes.NOT_FOUND)


def test_trailing_slash_is_not_redirected_on_post(client):
    response = client.post("/api/v1/auth/token/", {}, content_type="application/json")
    assert response.status_code == 404
    assert_envelope(response, status=404)


def test_method_not_allowed_is_an_envelope(api_as, owner):
    response = api_as(owner).delete("/api/v1/notifications")
    assert_envelope(response, status=405, code=codes.METHOD_NOT_ALLOWED)


def test_malformed_json_is_a_400_envelope(client):
    response = client.post("/api/v1/auth/token", "{not json", content_type="application/json")
    data = assert_envelope(response, status=400, code=codes.VALIDATION_ERROR)
    assert "JSON" in json.loads(response.content)["message"]
    assert data is not None or data is None  # body shape checked above; message names the problem


def test_validation_error_names_the_field(client):
    response = client.post("/api/v1/auth/token", {"username": "someone"}, content_type="application/json")
    data = assert_envelope(response, status=400, code=codes.VALIDATION_ERROR)
    assert data["field"] == "password"
    assert json.loads(response.content)["message"].startswith("password:")
    assert "password" in data["errors"]


def test_request_id_is_echoed(client):
    response = client.get("/api/v1/notifications", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert json.loads(response.content)["trace_id"] == "abc-123"


def test_unsafe_request_id_is_replaced(client):
    response = client.get("/api/v1/notifications", HTTP_X_REQUEST_ID="<script>")
    assert response["X-Request-ID"] != "<script>" and len(response["X-Request-ID"]) == 32


def test_unexpected_error_is_logged_and_answered_500_in_the_envelope(api_as, owner, monkeypatch, caplog):
    from accounts.api import views

    def explode(self):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(views.NotificationListView, "get_queryset", explode)
    client = api_as(owner)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="crm.api"):
        response = client.get("/api/v1/notifications", HTTP_X_REQUEST_ID="trace-500")
    assert_envelope(response, status=500, code=codes.SERVER_ERROR)
    assert "database on fire" not in response.content.decode()
    assert any(record.trace_id == "trace-500" for record in caplog.records if hasattr(record, "trace_id"))


def test_pagination_shape_and_size_cap(api_as, owner):
    _notes(owner, 120)
    data = assert_envelope(api_as(owner).get("/api/v1/notifications?page=2&size=500"), status=200)
    assert (data["total"], data["page"], data["size"]) == (120, 2, 100)
    assert len(data["items"]) == 20


def test_page_past_the_end_is_empty(api_as, owner):
    _notes(owner, 3)
    data = assert_envelope(api_as(owner).get("/api/v1/notifications?page=9"), status=200)
    assert data["items"] == [] and data["total"] == 3


@pytest.mark.parametrize(("query", "field"), [("page=abc", "page"), ("size=0", "size"), ("page=-1", "page")])
def test_invalid_paging_values_are_400_naming_the_parameter(api_as, owner, query, field):
    data = assert_envelope(api_as(owner).get(f"/api/v1/notifications?{query}"), status=400)
    assert data["field"] == field


def test_unknown_query_parameters_are_ignored(api_as, owner):
    _notes(owner, 2)
    data = assert_envelope(api_as(owner).get("/api/v1/notifications?colour=blue"), status=200)
    assert data["total"] == 2


def test_sort_by_whitelisted_field_both_directions(api_as, owner):
    _notes(owner, 5)
    with tenant_scope(owner.tenant):
        Notification.objects.filter(message="message 2").update(created_at=timezone.now() + timezone.timedelta(days=1))
    newest = assert_envelope(api_as(owner).get("/api/v1/notifications?sort=created_at,desc"), status=200)
    oldest = assert_envelope(api_as(owner).get("/api/v1/notifications?sort=created_at,asc"), status=200)
    assert newest["items"][0]["message"] == "message 2"
    assert oldest["items"][-1]["message"] == "message 2"


def test_sort_by_unknown_field_is_400_naming_it(api_as, owner):
    response = api_as(owner).get("/api/v1/notifications?sort=password,desc")
    data = assert_envelope(response, status=400, code=codes.VALIDATION_ERROR)
    assert data["field"] == "sort"
    assert "password" in json.loads(response.content)["message"]


def test_notification_list_query_budget_is_constant(api_as, owner):
    client = api_as(owner)
    _notes(owner, 3)
    with query_budget(6):
        client.get("/api/v1/notifications")
    _notes(owner, 60)
    with query_budget(6):
        client.get("/api/v1/notifications?size=50")


def test_throttled_caller_gets_429_envelope_with_retry_after(api_as, owner, monkeypatch):
    from crm_project.api.throttling import UserThrottle

    monkeypatch.setattr(UserThrottle, "THROTTLE_RATES", {"user": "3/min"})
    client = api_as(owner)
    start = int(time.time()) // 60 * 60 + 70  # 10 s into the next full minute, after the token was issued
    with time_machine.travel(start, tick=False) as clock:
        statuses = [client.get("/api/v1/notifications").status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        response = client.get("/api/v1/notifications")
        assert_envelope(response, status=429, code=codes.THROTTLED)
        assert int(response["Retry-After"]) == 50
        clock.shift(51)  # the next window starts afresh
        assert client.get("/api/v1/notifications").status_code == 200


def test_another_users_notification_is_404(api_as, owner, teammate, outsider):
    with tenant_scope(owner.tenant):
        note = Notification.objects.create(recipient=owner, kind="k", message="private")
    url = f"/api/v1/notifications/{note.pk}/read"
    assert_envelope(api_as(owner).post(url), status=200)
    assert_envelope(api_as(teammate).post(url), status=404)
    assert_envelope(api_as(outsider).post(url), status=404)
    assert_envelope(api_as(owner).post("/api/v1/notifications/999999/read"), status=404)
