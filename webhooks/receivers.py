"""Domain events of the lower apps turned into webhook deliveries (connected in `WebhooksConfig.ready()`).

Created/updated come from the models' `post_save` (no lower app has a signal for them); status change, merge,
deletion, SLA breach, rating and health changes come from the apps' own domain signals. Every receiver is cheap
for a tenant without subscriptions (a cached list, see `services._subscriptions`).
"""

from __future__ import annotations

from typing import Any

from webhooks import services
from webhooks.models import EventType


def _fields(obj, names: tuple[str, ...]) -> dict[str, Any]:
    return {"id": obj.pk, **{name: getattr(obj, name, None) for name in names}}


CUSTOMER_FIELDS = ("customer_code", "customer_name", "status", "level", "industry", "region", "health_score",
                   "assigned_manager_id", "next_renewal_date", "updated_at")  # fmt: skip
CONTRACT_FIELDS = ("customer_id", "contract_code", "contract_name", "contract_type", "contract_amount", "currency",
                   "start_date", "end_date", "status", "renewal_type", "updated_at")  # fmt: skip
TICKET_FIELDS = ("customer_id", "source_system", "external_id", "title", "category", "priority", "channel", "status",
                 "opened_at", "resolved_at", "closed_at", "breached", "satisfaction_overall", "updated_at")  # fmt: skip
TASK_FIELDS = ("customer_id", "task_title", "task_type", "priority", "status", "assigned_to_id", "due_date",
               "completion_date", "auto_generated", "updated_at")  # fmt: skip


def _saved(created_event: str, updated_event: str, names: tuple[str, ...]):
    def receiver(sender, instance, created, raw=False, **kwargs):
        if raw:  # loaddata / restore: not a domain event
            return
        services.emit(created_event if created else updated_event, tenant_id=instance.tenant_id,
                      data=lambda: _fields(instance, names))  # fmt: skip

    return receiver


on_customer_saved = _saved(EventType.CUSTOMER_CREATED, EventType.CUSTOMER_UPDATED, CUSTOMER_FIELDS)
on_contract_saved = _saved(EventType.CONTRACT_CREATED, EventType.CONTRACT_UPDATED, CONTRACT_FIELDS)
on_ticket_saved = _saved(EventType.TICKET_CREATED, EventType.TICKET_UPDATED, TICKET_FIELDS)
on_task_saved = _saved(EventType.TASK_CREATED, EventType.TASK_UPDATED, TASK_FIELDS)


def on_customer_status_changed(sender, customer, old, new, reason="", **kwargs):
    services.emit(
        EventType.CUSTOMER_STATUS_CHANGED,
        tenant_id=customer.tenant_id,
        data=lambda: {**_fields(customer, CUSTOMER_FIELDS), "old_status": old, "new_status": new, "reason": reason},
    )


def on_customer_merged(sender, survivor, duplicate, **kwargs) -> dict:
    services.emit(
        EventType.CUSTOMER_MERGED,
        tenant_id=survivor.tenant_id,
        data=lambda: {"survivor": _fields(survivor, CUSTOMER_FIELDS), "duplicate": _fields(duplicate, CUSTOMER_FIELDS)},
    )
    return {}


def on_customer_deleted(sender, customer, **kwargs):
    services.emit(
        EventType.CUSTOMER_DELETED, tenant_id=customer.tenant_id, data=lambda: _fields(customer, CUSTOMER_FIELDS)
    )


def on_sla_breached(sender, record, kind, **kwargs):
    services.emit(
        EventType.TICKET_SLA_BREACHED,
        tenant_id=record.tenant_id,
        data=lambda: {**_fields(record, TICKET_FIELDS), "kind": kind},
    )


def on_rating_received(sender, record, **kwargs):
    services.emit(EventType.TICKET_RATED, tenant_id=record.tenant_id, data=lambda: _fields(record, TICKET_FIELDS))


def on_health_changed(sender, score, customer, previous_overall=None, previous_risk_level=None, **kwargs):
    if kwargs.get("batched"):
        return  # the nightly chunk's rows come through `on_health_batch`, one subscription look-up a chunk
    _health_changed(score, customer, previous_overall, previous_risk_level)


def _health_changed(score, customer, previous_overall, previous_risk_level) -> None:
    if previous_overall is not None and previous_overall == score.overall_score:
        return  # the nightly re-score of an unchanged customer is not news
    services.emit(
        EventType.HEALTH_CHANGED,
        tenant_id=customer.tenant_id,
        data={
            "customer_id": customer.pk,
            "customer_code": customer.customer_code,
            "score_date": score.score_date,
            "overall_score": score.overall_score,
            "previous_overall": previous_overall,
            "risk_level": score.risk_level,
            "previous_risk_level": previous_risk_level,
        },
    )


def on_health_alert(sender, customer, kind, score, risk_level=None, **kwargs):
    if kwargs.get("batched"):
        return  # see on_health_batch
    _health_alert(customer, kind, score, risk_level, kwargs.get("drop"))


def _health_alert(customer, kind, score, risk_level, drop) -> None:
    services.emit(
        EventType.HEALTH_ALERT,
        tenant_id=customer.tenant_id,
        data={
            "customer_id": customer.pk,
            "customer_code": customer.customer_code,
            "kind": kind,
            "overall_score": score.overall_score,
            "risk_level": risk_level,
            "drop": drop,
        },
    )


def on_health_batch(sender, scores, previous, alerts, **kwargs):
    """A chunk of the nightly scoring: the tenant's subscriptions are looked up once for the whole chunk (per row,
    that look-up was most of the receivers' share of a 100,000-customer run), then every row and alert is sent
    exactly as the single-row receivers would."""
    if not scores:
        return
    tenant_id = scores[0].customer.tenant_id
    if services.subscribed(tenant_id, EventType.HEALTH_CHANGED):
        for score in scores:
            prev = previous.get(score.customer_id)
            _health_changed(score, score.customer, prev[0] if prev else None, prev[1] if prev else None)
    if alerts and services.subscribed(tenant_id, EventType.HEALTH_ALERT):
        by_customer = {score.customer_id: score for score in scores}
        for alert in alerts:
            score = by_customer.get(alert.customer_id)
            if score is not None:
                _health_alert(score.customer, str(alert.kind), score, alert.risk_level, alert.drop)


def on_subscription_changed(sender, instance, **kwargs):
    services.forget_subscriptions(instance.tenant_id)


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    from contracts.models import Contract
    from customers.models import Customer
    from customers.signals import customer_deleted, customer_merged, customer_status_changed
    from health.signals import health_alert, health_score_changed, health_scores_changed
    from service_records.models import ServiceRecord
    from service_records.signals import rating_received, sla_breached
    from success_tasks.models import CustomerSuccessTask
    from webhooks.models import WebhookSubscription

    post_save.connect(on_customer_saved, sender=Customer, dispatch_uid="webhooks.customer_saved")
    post_save.connect(on_contract_saved, sender=Contract, dispatch_uid="webhooks.contract_saved")
    post_save.connect(on_ticket_saved, sender=ServiceRecord, dispatch_uid="webhooks.ticket_saved")
    post_save.connect(on_task_saved, sender=CustomerSuccessTask, dispatch_uid="webhooks.task_saved")
    customer_status_changed.connect(on_customer_status_changed, dispatch_uid="webhooks.customer_status")
    customer_merged.connect(on_customer_merged, dispatch_uid="webhooks.customer_merged")
    customer_deleted.connect(on_customer_deleted, dispatch_uid="webhooks.customer_deleted")
    sla_breached.connect(on_sla_breached, dispatch_uid="webhooks.sla_breached")
    rating_received.connect(on_rating_received, dispatch_uid="webhooks.rating_received")
    health_score_changed.connect(on_health_changed, dispatch_uid="webhooks.health_changed")
    health_alert.connect(on_health_alert, dispatch_uid="webhooks.health_alert")
    health_scores_changed.connect(on_health_batch, dispatch_uid="webhooks.health_batch")
    post_save.connect(on_subscription_changed, sender=WebhookSubscription, dispatch_uid="webhooks.subs_saved")
    post_delete.connect(on_subscription_changed, sender=WebhookSubscription, dispatch_uid="webhooks.subs_deleted")
