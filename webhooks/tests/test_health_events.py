"""Health changes reach subscribers: from the nightly chunks (one subscription look-up a chunk) and from the
single-customer calculation, with the same payloads."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.tenancy import tenant_scope
from customers.choices import CustomerStatus
from customers.tests.factories import make_customer
from health import services as health_services
from health.tests.factories import score_row
from health.tests.test_scoring import TODAY, with_contract
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.tests.factories import make_subscription

pytestmark = pytest.mark.django_db
NOW = "2026-06-15 20:00:00+08:00"


@pytest.fixture(autouse=True)
def _record_only(monkeypatch):
    """Deliveries are only recorded here (nothing is sent)."""
    monkeypatch.setattr(services, "_queue_after_commit", lambda ids: None)


def falling_customer(owner, name):
    customer = make_customer(owner, customer_name=name, status=CustomerStatus.FORMAL)
    with_contract(customer, late=3)
    score_row(customer, TODAY - timedelta(days=20), 95, 1)
    return customer


def deliveries(tenant):
    with tenant_scope(tenant):
        return list(WebhookDelivery.objects.order_by("pk").values_list("event_type", "payload"))


@time_machine.travel(NOW, tick=False)
def test_nightly_run_sends_changes_and_alerts_to_subscribers(owner, tenant, django_capture_on_commit_callbacks):
    make_subscription(owner, event_types=("health.changed", "health.alert"))
    first, second = falling_customer(owner, "Falls One Ltd"), falling_customer(owner, "Falls Two Ltd")
    with tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):  # scores are announced at commit
        health_services.scores_save(TODAY)
    sent = deliveries(tenant)
    changed = {p["data"]["customer_id"]: p["data"] for kind, p in sent if kind == "health.changed"}
    assert set(changed) == {first.pk, second.pk}
    assert Decimal(str(changed[first.pk]["previous_overall"])) == Decimal("95.00")
    alerts = sorted((p["data"]["customer_id"], p["data"]["kind"]) for kind, p in sent if kind == "health.alert")
    assert alerts == sorted([(first.pk, "drop"), (first.pk, "risk_up"), (second.pk, "drop"), (second.pk, "risk_up")])
    with tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):  # scores are announced at commit
        health_services.scores_save(TODAY)  # the same day again: the alerts are not raised twice
    assert [kind for kind, _p in deliveries(tenant)].count("health.alert") == 4


@time_machine.travel(NOW, tick=False)
def test_only_subscribed_events_are_sent(owner, tenant, django_capture_on_commit_callbacks):
    make_subscription(owner, event_types=("health.alert",))
    falling_customer(owner, "Falls Three Ltd")
    with tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):  # scores are announced at commit
        health_services.scores_save(TODAY)
    assert {kind for kind, _payload in deliveries(tenant)} == {"health.alert"}


@time_machine.travel(NOW, tick=False)
def test_single_customer_calculation_sends_the_same_events(owner, tenant, django_capture_on_commit_callbacks):
    make_subscription(owner, event_types=("health.changed", "health.alert"))
    customer = falling_customer(owner, "Falls Four Ltd")
    with tenant_scope(tenant), django_capture_on_commit_callbacks(execute=True):
        health_services.customer_score_calculate(actor=owner, customer=customer)
    kinds = sorted(kind for kind, _payload in deliveries(tenant))
    assert kinds == ["health.alert", "health.alert", "health.changed"]
