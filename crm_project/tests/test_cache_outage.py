"""With Redis down the web keeps serving, logs the outage once, and /healthz reports the cache (issue 8 item 6)."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.cache import caches
from django.test import override_settings

from crm_project.cache import PooledRedisCache
from crm_project.testing import api_client_for, assert_envelope
from customers.tests.factories import make_customer

DEAD_REDIS = {
    "default": {
        "BACKEND": "crm_project.cache.PooledRedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "KEY_PREFIX": "crm-outage-test",
    }
}


@pytest.fixture
def dead_cache():
    with override_settings(CACHES=DEAD_REDIS):
        backend = caches["default"]
        assert isinstance(backend, PooledRedisCache)
        yield backend


def test_api_and_pages_keep_serving_without_redis(owner, staff_client_as, dead_cache, caplog):
    api = api_client_for(owner)
    with caplog.at_level(logging.WARNING, logger="crm.cache"):
        customer = make_customer(owner, customer_name="Outage Ltd")
        listed = assert_envelope(api.get("/api/v1/customers"), 200)
        assert listed["total"] == 1
        assert_envelope(api.get(f"/api/v1/customers/{customer.pk}"), 200)
        assert_envelope(api.get("/api/v1/contracts"), 200)
        created = api.post("/api/v1/customers", {"customer_name": "Written While Down Ltd"}, format="json")
        assert_envelope(created, 201)
        # No stale list: the cache is bypassed, so the new customer shows at once.
        assert assert_envelope(api.get("/api/v1/customers"), 200)["total"] == 2
        staff = staff_client_as(owner)
        assert staff.get("/customers/").status_code == 200
        assert staff.get(f"/customers/{customer.pk}/").status_code == 200
        assert staff.get("/").status_code == 200
    outage_logs = [record for record in caplog.records if record.name == "crm.cache"]
    assert len(outage_logs) == 1, [record.getMessage() for record in outage_logs]  # once, not per request
    assert dead_cache.is_down


def test_throttling_is_per_process_while_redis_is_down(dead_cache, owner, settings):
    from crm_project.api.throttling import _hit

    assert [_hit("outage-window", 60) for _ in range(3)] == [1, 2, 3]


def test_replay_protection_still_refuses_the_same_key_while_down(dead_cache):
    assert dead_cache.add("crm:hmac:k:sig", 1, 60) is True
    assert dead_cache.add("crm:hmac:k:sig", 1, 60) is False


def test_healthz_reports_the_cache_separately(dead_cache, client, db):
    body = json.loads(client.get("/healthz").content)
    assert body["cache"] == "error" and body["cache_kind"] == "redis"
    assert body["database"] == "ok"


def test_healthz_cache_ok_in_the_embedded_mode(client, db, settings):
    body = json.loads(client.get("/healthz").content)
    assert body["cache"] == "ok"


def test_webhook_events_are_recorded_while_redis_is_down(owner, dead_cache, monkeypatch):
    """The subscription list is cached; with Redis down it is read from the database, so no event is lost, and a
    broker that is down too only delays the send (the row waits for the `redeliver_due` sweeper)."""
    from accounts.tenancy import tenant_scope
    from webhooks import services, tasks
    from webhooks.models import DeliveryStatus, WebhookDelivery
    from webhooks.tests.factories import make_subscription

    make_subscription(owner, event_types=["customer.created"])

    def broker_down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(tasks.deliver, "apply_async", broker_down)
    api = api_client_for(owner)
    assert_envelope(api.post("/api/v1/customers", {"customer_name": "Event While Down"}, format="json"), 201)
    with tenant_scope(owner.tenant):
        delivery = WebhookDelivery.objects.get(event_type="customer.created")
    assert delivery.status == DeliveryStatus.PENDING and delivery.payload["data"]["customer_name"] == "Event While Down"
    services.queue([delivery.pk])  # the broker is down: logged, not raised
    sent = []
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, countdown=0: sent.append(args[0]))
    with tenant_scope(owner.tenant):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at.replace(year=2000))
    tasks.redeliver_due.run()  # Redis is back: the sweeper queues it again
    assert sent == [delivery.pk]
