"""What success_tasks does when the lower apps report something (their signals), plus merge and timeline."""

from __future__ import annotations

import logging

from django.dispatch import receiver
from django.urls import reverse

from accounts.models import AuditLog
from accounts.registry import audit_labels
from accounts.tenancy import current_tenant, tenant_scope
from communications.signals import communication_logged, follow_up_due
from customers.extensions import TimelineEntry
from customers.models import Customer
from customers.signals import customer_merged, success_task_requested
from service_records.signals import batch_customers, batch_memo, nps_received, rating_received, sla_breached
from success_tasks.choices import Trigger

logger = logging.getLogger(__name__)


def _run(customer, trigger: str, check, *, memo=None) -> None:
    """Evaluate one trigger for one customer inside the customer's tenant; a failure never breaks the sender.

    `memo` (service_records.signals.batch_memo) keeps the tenant's rules for the rest of a batch of signals."""
    from success_tasks import services

    if customer is None:
        return
    try:
        scope = current_tenant()
        if scope is not None and scope.pk == customer.tenant_id:
            rules = memo(("rules", customer.tenant_id, trigger), lambda: services.rules_for(trigger)) if memo else None
            services.rules_on_event(trigger, customer, check, rules=rules)
        else:
            from accounts.models import Tenant

            with tenant_scope(Tenant.objects.get(pk=customer.tenant_id)):
                services.rules_on_event(trigger, customer, check)
    except Exception:
        logger.exception("playbook rules for %s on customer %s failed", trigger, getattr(customer, "pk", None))


@receiver(rating_received, dispatch_uid="success_tasks.rating")
def on_rating(sender, record=None, customer=None, **kwargs) -> None:
    from success_tasks import playbook

    _run(
        customer or record.customer,
        Trigger.SATISFACTION_BELOW,
        lambda rule: playbook.check_rating(rule, record),
        memo=batch_memo,
    )


@receiver(nps_received, dispatch_uid="success_tasks.nps")
def on_nps(sender, response=None, customer=None, **kwargs) -> None:
    from success_tasks import playbook

    _run(customer or response.customer, Trigger.NPS_DETRACTOR, lambda rule: playbook.check_nps(rule, response))


@receiver(sla_breached, dispatch_uid="success_tasks.sla")
def on_sla_breached(sender, record=None, customer=None, **kwargs) -> None:
    from django.utils import timezone

    from success_tasks import playbook

    customer = customer or record.customer

    def check(rule):
        batch = batch_customers()
        if batch is None or customer.pk not in batch:
            return playbook.check_sla(rule, playbook.sla_breach_count(customer.pk, rule.window_days, timezone.now()))
        # Inside an ingest batch every ticket is written before the first signal: one grouped count for all.
        counts = batch_memo(
            ("sla_counts", customer.tenant_id, rule.window_days),
            lambda: playbook.sla_breach_counts(batch, rule.window_days, timezone.now()),
        )
        return playbook.check_sla(rule, counts.get(customer.pk, 0))

    # The count does not change within a batch, so a customer's second breach in it would fire nothing new.
    batch_memo(
        ("sla_evaluated", customer.tenant_id, customer.pk),
        lambda: _run(customer, Trigger.SLA_BREACHES, check, memo=batch_memo),
    )


@receiver(communication_logged, dispatch_uid="success_tasks.communication")
def on_communication(sender, communication=None, customer=None, sentiment=None, needs=None, **kwargs) -> None:
    from success_tasks import playbook

    customer = customer or communication.customer
    _run(customer, Trigger.NEGATIVE_SENTIMENT, lambda rule: playbook.check_sentiment(rule, communication, sentiment))
    _run(customer, Trigger.RENEWAL_RISK_NEED, lambda rule: playbook.check_need(rule, communication, needs))


@receiver(follow_up_due, dispatch_uid="success_tasks.follow_up")
def on_follow_up_due(sender, follow_up=None, customer=None, **kwargs) -> None:
    from success_tasks import playbook

    _run(customer or follow_up.customer, Trigger.FOLLOW_UP_DUE, lambda rule: playbook.check_follow_up(rule, follow_up))


def on_health_score_changed(sender, score=None, customer=None, batched=False, **kwargs) -> None:
    """health.signals.health_score_changed: health below X, risk level >= N (connected when health is installed).
    A row of the nightly run (`batched`) was handled with its chunk by `on_health_scores_changed`."""
    from success_tasks import playbook

    if batched:
        return
    _run(
        customer,
        Trigger.HEALTH_BELOW,
        lambda rule: playbook.check_health_below(rule, score.overall_score),
        memo=batch_memo,
    )
    _run(customer, Trigger.RISK_LEVEL, lambda rule: playbook.check_risk_level(rule, score.risk_level), memo=batch_memo)


def on_health_alert(
    sender, customer=None, kind=None, drop=None, window_days=None, risk_level=None, batched=False, **kwargs
) -> None:
    """health.signals.health_alert: a drop within the window, or the risk level went up."""
    from success_tasks import playbook

    if batched:
        return
    if kind == "drop":
        _run(customer, Trigger.HEALTH_DROP, lambda rule: playbook.check_drop(rule, drop, window_days), memo=batch_memo)
    elif kind == "risk_up":
        _run(customer, Trigger.RISK_LEVEL, lambda rule: playbook.check_risk_level(rule, risk_level), memo=batch_memo)


def on_health_scores_changed(sender, scores=(), alerts=(), window_days=None, **kwargs) -> None:
    """health.signals.health_scores_changed (one chunk of the nightly run): the same rules as the two receivers
    above for every row and alert of the chunk, in the same order, evaluated in memory; the tasks are written
    set-based by `services.rules_fire_many`. A failure never breaks the scoring."""
    from success_tasks import playbook, services

    try:
        below = services.rules_for(Trigger.HEALTH_BELOW)
        risk = services.rules_for(Trigger.RISK_LEVEL)
        drops = services.rules_for(Trigger.HEALTH_DROP)
        firings = []
        for score in scores:
            for rule in below:
                if (firing := playbook.check_health_below(rule, score.overall_score)) is not None:
                    firings.append((rule, score.customer, firing))
            for rule in risk:
                if (firing := playbook.check_risk_level(rule, score.risk_level)) is not None:
                    firings.append((rule, score.customer, firing))
        customers = {score.customer_id: score.customer for score in scores}
        for alert in alerts:
            customer = customers.get(alert.customer_id)
            if customer is None:
                continue
            if alert.kind == "drop":
                for rule in drops:
                    if (firing := playbook.check_drop(rule, alert.drop, window_days)) is not None:
                        firings.append((rule, customer, firing))
            elif alert.kind == "risk_up":
                for rule in risk:
                    if (firing := playbook.check_risk_level(rule, alert.risk_level)) is not None:
                        firings.append((rule, customer, firing))
        services.rules_fire_many(firings)
    except Exception:
        logger.exception("playbook rules for a chunk of %d health scores failed", len(scores))


@receiver(customer_merged, sender=Customer, dispatch_uid="success_tasks.move_on_merge")
def move_tasks_on_merge(sender, survivor, duplicate, actor=None, request=None, **kwargs) -> dict[str, int]:
    from success_tasks import services

    return {"success tasks": services.tasks_move_to_customer(source=duplicate, target=survivor, actor=actor)}


def task_timeline_entries(request, customer, before, limit: int) -> list[TimelineEntry]:
    """Task events (created, generated, status changes, reassignments, comments) of this customer's tasks."""
    from success_tasks.models import CustomerSuccessTask

    titles = {
        str(pk): title
        for pk, title in CustomerSuccessTask.objects.filter(customer=customer).values_list("pk", "task_title")
    }
    if not titles:
        return []
    entries = AuditLog.objects.filter(object_type="success_tasks.customersuccesstask", object_id__in=list(titles))
    if before is not None:
        entries = entries.filter(created_at__lt=before)
    return [
        TimelineEntry(
            when=entry.created_at,
            kind="success_tasks",
            title=audit_labels.label(entry.action),
            actor=entry.actor_name,
            summary=titles[entry.object_id],
            url=reverse("success_tasks:task_detail", args=[entry.object_id]),
            icon="task",
        )
        for entry in entries.order_by("-created_at", "-id")[:limit]
    ]


@receiver(success_task_requested, dispatch_uid="success_tasks.requested")
def on_task_requested(sender, customer=None, title="", description="", goal="", due_date=None, actor=None, **kwargs):
    """A task another app asks for (e.g. a campaign's CSM channel): created through the task service."""
    from success_tasks import services
    from success_tasks.choices import TaskType

    task_type = {"renewal": TaskType.RENEWAL, "satisfaction": TaskType.SATISFACTION}.get(goal, TaskType.HEALTH)
    return services.task_create(
        actor=actor,
        customer=customer,
        data={"task_title": title, "task_description": description, "task_type": task_type, "due_date": due_date},
    )
