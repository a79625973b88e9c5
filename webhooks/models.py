"""Outgoing webhooks: per-tenant subscriptions to domain events, the delivery log (every attempt) and a circuit
breaker per target. Every row belongs to one tenant."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantOwnedModel
from crm_project.crypto import EncryptedCharField


class EventType(models.TextChoices):
    CUSTOMER_CREATED = "customer.created", _("Customer created")
    CUSTOMER_UPDATED = "customer.updated", _("Customer updated")
    CUSTOMER_STATUS_CHANGED = "customer.status_changed", _("Customer status changed")
    CUSTOMER_MERGED = "customer.merged", _("Customers merged")
    CUSTOMER_DELETED = "customer.deleted", _("Customer deleted")
    CONTRACT_CREATED = "contract.created", _("Contract created")
    CONTRACT_UPDATED = "contract.updated", _("Contract updated")
    TICKET_CREATED = "ticket.created", _("Ticket created")
    TICKET_UPDATED = "ticket.updated", _("Ticket updated")
    TICKET_SLA_BREACHED = "ticket.sla_breached", _("Ticket SLA breached")
    TICKET_RATED = "ticket.rated", _("Ticket rated")
    HEALTH_CHANGED = "health.changed", _("Health score changed")
    HEALTH_ALERT = "health.alert", _("Health alert")
    TASK_CREATED = "task.created", _("Task created")
    TASK_UPDATED = "task.updated", _("Task updated")
    PORTAL_REQUEST_CREATED = "portal.request_created", _("Portal service request")


class WebhookSubscription(TenantOwnedModel):
    """A target URL that receives the tenant's events of the chosen types, signed with its own secret."""

    name = models.CharField(_("name"), max_length=100)
    target_url = models.URLField(_("target URL"), max_length=500)
    key_id = models.CharField(_("key id"), max_length=64, editable=False)
    secret = EncryptedCharField(_("secret"), max_length=128, editable=False)
    event_types = models.JSONField(_("event types"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "webhook_subscriptions"
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(TenantOwnedModel):
    """One event sent to one target: the signed request body, its state, the next attempt, the last answer.

    `subscription` is empty for a built-in target (the portal's ticket-system webhook), whose URL and signing
    key are copied here."""

    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, editable=False)
    event_type = models.CharField(_("event type"), max_length=40, db_index=True)
    subscription = models.ForeignKey(
        WebhookSubscription,
        verbose_name=_("subscription"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    source = models.CharField(_("source"), max_length=40, blank=True)
    target_url = models.URLField(_("target URL"), max_length=500)
    key_id = models.CharField(_("key id"), max_length=64)
    secret = EncryptedCharField(max_length=128, editable=False)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    replay_of = models.ForeignKey(
        "self", verbose_name=_("replay of"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        db_table = "webhook_deliveries"
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.target_url}"


class DeliveryAttempt(TenantOwnedModel):
    """One HTTP request of a delivery: the headers sent, the answer's code, duration and error."""

    delivery = models.ForeignKey(
        WebhookDelivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    request_headers = models.JSONField(_("request headers"), default=dict)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    response_body = models.TextField(_("response body"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started at"))

    class Meta:
        db_table = "webhook_delivery_attempts"
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["delivery_id", "number"]


class BreakerState(models.TextChoices):
    CLOSED = "closed", _("Closed")
    OPEN = "open", _("Open")
    HALF_OPEN = "half_open", _("Half open")


class CircuitBreaker(TenantOwnedModel):
    """Per target (scheme://host:port): opens after N consecutive failures, lets one trial through after the
    cool-down (half open), closes again on a success."""

    target = models.CharField(_("target"), max_length=300)
    state = models.CharField(_("state"), max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED)
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "webhook_circuit_breakers"
        verbose_name = _("circuit breaker")
        verbose_name_plural = _("circuit breakers")
        constraints = [models.UniqueConstraint(fields=["tenant", "target"], name="webhook_breaker_unique_target")]

    def __str__(self) -> str:
        return f"{self.target} ({self.get_state_display()})"
