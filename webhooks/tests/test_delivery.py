"""Outgoing webhooks against a real local HTTP server: signed delivery of a domain event after commit, retries
with the backoff schedule, the circuit breaker, replay, the SSRF guard and the sweeper."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from accounts.integration import sign
from accounts.models import Notification
from accounts.tenancy import tenant_scope, unscoped
from customers.tests.factories import make_customer
from webhooks import services, tasks
from webhooks.models import BreakerState, CircuitBreaker, DeliveryAttempt, DeliveryStatus, WebhookDelivery
from webhooks.tests.factories import Target, make_delivery, make_subscription


@pytest.fixture
def target(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True  # the target runs on loopback
    with Target() as server:
        yield server


@pytest.fixture
def sync_queue(monkeypatch):
    """Deliveries are handed to the workers after commit; here they are recorded (tests run the attempts)."""
    queued: list[int] = []
    monkeypatch.setattr(services, "queue", lambda ids, countdown=0: queued.extend(ids))
    return queued


def _due_now(delivery_id: int) -> None:
    with unscoped("test: the next attempt is due"):
        WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())


def _reload(delivery_id: int) -> WebhookDelivery:
    with unscoped("test"):
        return WebhookDelivery.objects.get(pk=delivery_id)


def test_a_new_customer_reaches_the_subscriber_signed_after_commit(
    owner, target, sync_queue, django_capture_on_commit_callbacks
):
    subscription = make_subscription(owner, url=target.url, event_types=["customer.created", "customer.updated"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        customer = make_customer(owner, customer_name="Webhook Ltd")
        assert sync_queue == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    with tenant_scope(owner.tenant):
        delivery = WebhookDelivery.objects.get(event_type="customer.created")
    assert sync_queue == [delivery.pk]

    assert services.attempt(delivery.pk).state == "delivered"
    request = target.received[-1]
    headers, body = request["headers"], request["body"]
    # The receiver verifies exactly like our own integration endpoints (accounts.integration).
    assert headers["X-CRM-Key"] == subscription.key_id
    assert headers["X-CRM-Signature"] == sign(subscription.secret, headers["X-CRM-Timestamp"], body)
    assert headers["X-CRM-Event"] == "customer.created"
    event = json.loads(body)
    assert event["event"] == "customer.created" and event["id"] == headers["Idempotency-Key"]
    assert event["data"]["id"] == customer.pk and event["data"]["customer_name"] == "Webhook Ltd"
    delivery = _reload(delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.DELIVERED, 1, 200)
    with tenant_scope(owner.tenant):
        logged = DeliveryAttempt.objects.get(delivery=delivery)
    assert logged.response_code == 200 and logged.duration_ms >= 0 and logged.error == ""
    assert "X-CRM-Signature" not in logged.request_headers and logged.request_headers["X-CRM-Key"]


def test_a_rolled_back_change_sends_nothing_and_other_events_are_not_sent(owner, target, sync_queue):
    from django.db import transaction

    make_subscription(owner, url=target.url, event_types=["contract.created"])
    with pytest.raises(RuntimeError), transaction.atomic():
        make_customer(owner, customer_name="Never Ltd")
        raise RuntimeError("boom")
    make_customer(owner, customer_name="Not subscribed Ltd")  # customer.created: not subscribed
    with unscoped("test"):
        assert WebhookDelivery.objects.count() == 0


def test_a_500_is_retried_on_the_backoff_schedule_then_fails_visibly(owner, target, sync_queue, settings):
    settings.WEBHOOK_BREAKER_THRESHOLD = 100  # retries only; the breaker has its own test
    target.statuses = [500]
    delivery = make_delivery(owner, make_subscription(owner, url=target.url))
    waits = []
    for _ in range(settings.WEBHOOK_MAX_ATTEMPTS):
        outcome = services.attempt(delivery.pk)
        waits.append(outcome.retry_in)
        if outcome.retry_in is not None:
            # The next attempt is not due before its backoff ends: an early task is skipped, nothing is sent.
            assert services.attempt(delivery.pk).state == "skipped"
            row = _reload(delivery.pk)
            assert abs((row.next_attempt_at - timezone.now()).total_seconds() - outcome.retry_in) < 5
        _due_now(delivery.pk)
    assert waits == [30, 60, 120, 240, 480, None]
    assert len(target.received) == settings.WEBHOOK_MAX_ATTEMPTS
    delivery = _reload(delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.FAILED, 6, 500)
    with tenant_scope(owner.tenant):
        assert list(delivery.attempt_log.values_list("number", "response_code")) == [(n, 500) for n in range(1, 7)]
        assert Notification.objects.filter(recipient=owner, kind="webhook_failed").count() == 1


def test_the_celery_task_queues_itself_again_with_the_backoff(owner, target, monkeypatch):
    target.statuses = [503]
    delivery = make_delivery(owner, make_subscription(owner, url=target.url))
    queued = []
    monkeypatch.setattr(services, "queue", lambda ids, countdown=0: queued.append((ids, countdown)))
    assert tasks.deliver.run(delivery.pk) == "retry"
    assert queued == [([delivery.pk], 30)]


def test_the_circuit_opens_after_consecutive_failures_and_half_opens_after_the_cool_down(owner, target, settings):
    settings.WEBHOOK_BREAKER_THRESHOLD = 3
    settings.WEBHOOK_BREAKER_COOLDOWN_SECONDS = 60
    target.statuses = [500]
    subscription = make_subscription(owner, url=target.url)
    deliveries = [make_delivery(owner, subscription) for _ in range(4)]
    for delivery in deliveries[:3]:
        assert services.attempt(delivery.pk).state == "retry"
    with tenant_scope(owner.tenant):
        breaker = CircuitBreaker.objects.get()
    assert (breaker.state, breaker.consecutive_failures) == (BreakerState.OPEN, 3)
    # Open: the fourth delivery waits for the cool-down without a request and without using up an attempt.
    outcome = services.attempt(deliveries[3].pk)
    assert outcome.state == "waiting" and 55 <= outcome.retry_in <= 60
    assert len(target.received) == 3 and _reload(deliveries[3].pk).attempts == 0
    # After the cool-down one trial goes through; it fails, so the breaker opens again at once.
    with tenant_scope(owner.tenant):
        CircuitBreaker.objects.update(opened_at=timezone.now() - timedelta(seconds=61))
    _due_now(deliveries[3].pk)
    assert services.attempt(deliveries[3].pk).state == "retry"
    assert len(target.received) == 4
    with tenant_scope(owner.tenant):
        assert CircuitBreaker.objects.get().state == BreakerState.OPEN
        CircuitBreaker.objects.update(opened_at=timezone.now() - timedelta(seconds=61))
    # The target is back: the next trial succeeds and closes the breaker; the waiting deliveries flow again.
    target.statuses = [200]
    _due_now(deliveries[0].pk)
    assert services.attempt(deliveries[0].pk).state == "delivered"
    with tenant_scope(owner.tenant):
        breaker = CircuitBreaker.objects.get()
    assert (breaker.state, breaker.consecutive_failures) == (BreakerState.CLOSED, 0)
    for delivery in deliveries[1:]:
        _due_now(delivery.pk)
        assert services.attempt(delivery.pk).state == "delivered"
    # Nothing lost: every event arrived once the target came back.
    with unscoped("test"):
        assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}


def test_a_failed_delivery_replayed_by_the_admin_succeeds_with_the_same_event_id(
    owner, target, sync_queue, api_as, settings, django_capture_on_commit_callbacks
):
    from crm_project.testing import assert_envelope

    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.WEBHOOK_BREAKER_THRESHOLD = 2
    target.statuses = [500]
    delivery = make_delivery(owner, make_subscription(owner, url=target.url))
    services.attempt(delivery.pk)
    _due_now(delivery.pk)
    assert services.attempt(delivery.pk).state == "failed"
    failed = assert_envelope(api_as(owner).get("/api/v1/webhooks/deliveries?status=failed"), 200)
    assert [item["id"] for item in failed["items"]] == [delivery.pk]

    target.statuses = [200]
    with django_capture_on_commit_callbacks(execute=True):
        replay = assert_envelope(api_as(owner).post(f"/api/v1/webhooks/deliveries/{delivery.pk}/replay"), 201)
    assert sync_queue == [replay["id"]] and replay["replay_of"] == delivery.pk
    # The breaker is open after two failures; an administrator's replay is the trial that closes it.
    assert services.attempt(replay["id"]).state == "delivered"
    assert target.received[-1]["headers"]["Idempotency-Key"] == str(_reload(delivery.pk).event_id)
    with tenant_scope(owner.tenant):
        assert CircuitBreaker.objects.get().state == BreakerState.CLOSED


def test_loopback_and_private_targets_are_refused_unless_allowed(owner, api_as, settings, target):
    from crm_project.testing import assert_envelope

    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    for url in (target.url, "http://10.0.0.8/hook", "http://localhost/hook", "http://[::1]/x", "ftp://example.com/"):
        response = api_as(owner).post(
            "/api/v1/webhooks/subscriptions",
            {"name": "Internal", "target_url": url, "event_types": ["customer.created"]},
            format="json",
        )
        assert_envelope(response, 400)
        assert "target_url" in json.dumps(response.json()), url
    # A row that slipped in while allowed is refused at delivery time too: no request reaches the target.
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    delivery = make_delivery(owner, make_subscription(owner, url=target.url))
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    with translation.override("en"):
        assert services.attempt(delivery.pk).state == "retry"
    assert target.received == [] and "not allowed" in _reload(delivery.pk).last_error


def test_the_sweeper_queues_overdue_deliveries_and_a_dead_broker_loses_nothing(owner, monkeypatch, caplog):
    delivery = make_delivery(owner)
    with unscoped("test"):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    fresh = make_delivery(owner)  # due now: its own task is on its way, the sweeper leaves it

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.deliver, "apply_async", broker_down)
    assert tasks.redeliver_due.run() == {"queued": 1}  # queued = handed over (or logged when the broker is down)
    assert _reload(delivery.pk).status == DeliveryStatus.PENDING  # still there for the next sweep
    sent = []
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, countdown=0: sent.append(args[0]))
    tasks.redeliver_due.run()
    assert sent == [delivery.pk] and fresh.pk not in sent


def test_a_tenant_without_subscriptions_pays_no_query_per_save(owner, django_assert_max_num_queries):
    services.emit("customer.created", tenant_id=owner.tenant_id, data={})  # fills the cache
    with django_assert_max_num_queries(0):
        for _ in range(5):
            assert services.emit("customer.created", tenant_id=owner.tenant_id, data={}) == []


def test_staff_page_shows_failures_and_replays(
    owner, staff_client_as, sync_queue, make_user, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    delivery = make_delivery(owner, status=DeliveryStatus.FAILED, attempts=6, last_error="HTTP 503")
    for _ in range(5):
        make_delivery(owner, delivery.subscription)
    client = staff_client_as(owner)
    client.get("/webhooks/")  # warm the session, permission and navigation caches
    with django_assert_max_num_queries(25):
        page = client.get("/webhooks/?status=failed").content.decode()
    assert "HTTP 503" in page and 'data-testid="webhook-failures"' in page
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/webhooks/deliveries/{delivery.pk}/replay").status_code == 302
    assert len(sync_queue) == 1
    assert staff_client_as(make_user(role="csm")).get("/webhooks/").status_code == 403


def test_admin_replay_action(owner, staff_client_as, sync_queue):
    delivery = make_delivery(owner, status=DeliveryStatus.FAILED, attempts=6, last_error="HTTP 503")
    client = staff_client_as(owner)
    assert "HTTP 503" in client.get("/admin/webhooks/webhookdelivery/?status__exact=failed").content.decode()
    response = client.post("/admin/webhooks/webhookdelivery/", {"action": "replay", "_selected_action": [delivery.pk]})
    assert response.status_code == 302
    with unscoped("test"):
        assert WebhookDelivery.objects.filter(replay_of=delivery).count() == 1
