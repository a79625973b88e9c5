"""Outgoing webhook: a portal request is POSTed to the tenant's ticket system, signed like the integration
scheme (`X-CRM-Key`, `X-CRM-Timestamp`, `X-CRM-Signature: sha256=HMAC(secret, timestamp + "." + body)`),
retried with exponential backoff; each attempt and the final state are in the delivery log (admin)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.integration import sign
from accounts.services import audit_record
from accounts.tenancy import tenant_scope, unscoped
from portal.models import DeliveryStatus, TicketWebhook, WebhookDelivery

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 30  # 30 s, 60 s, 120 s, 240 s
TIMEOUT_SECONDS = 10


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """One HTTP POST; returns the status (raises on a network error). Replaced in tests."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (admin-set URL)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def attempt(delivery_id: int) -> bool | None:
    """Try once. True delivered, False should be retried, None nothing to do (gone or already final)."""
    with unscoped("the task names its delivery; the tenant is read from it"):
        delivery = WebhookDelivery.objects.select_related("tenant").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return None
    with tenant_scope(delivery.tenant):
        webhook = TicketWebhook.objects.filter(is_active=True).first()
        body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True).encode()
        timestamp = str(int(time.time()))
        error, status = "", None
        if webhook is None:
            error = "no active webhook"
        else:
            headers = {
                "Content-Type": "application/json",
                "X-CRM-Key": webhook.key_id,
                "X-CRM-Timestamp": timestamp,
                "X-CRM-Signature": sign(webhook.secret, timestamp, body),
                "Idempotency-Key": f"portal-{delivery.pk}",
            }
            try:
                status = post(delivery.url, body, headers)
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except Exception as exc:  # noqa: BLE001 — any network failure is retried and logged
                error = f"{type(exc).__name__}: {exc}"[:500]
        with transaction.atomic():
            delivery.attempts += 1
            delivery.response_status = status
            delivery.last_error = error
            if not error:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.finished_at = timezone.now()
            elif delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
                delivery.finished_at = timezone.now()
            delivery.save()
            if delivery.status != DeliveryStatus.PENDING:
                action = "crm.portal.webhook_delivered" if not error else "crm.portal.webhook_failed"
                audit_record(
                    action=action, obj=delivery, tenant=delivery.tenant, changes={"attempts": (None, delivery.attempts)}
                )
            if delivery.status == DeliveryStatus.FAILED:
                _tell_admins(delivery)
        return not error


def _tell_admins(delivery: WebhookDelivery) -> None:
    """The tenant's administrators learn of a request the ticket system never received (once per delivery)."""
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from accounts.models import User
    from accounts.roles import TENANT_ADMIN
    from accounts.services import notify

    admins = User.objects.filter(tenant_id=delivery.tenant_id, is_active=True, groups__name=TENANT_ADMIN).distinct()
    for admin in admins:
        notify(
            admin,
            "portal_webhook_failed",
            delivery,
            _("A portal request could not be sent to the ticket system after %(n)d attempts: %(error)s")
            % {"n": delivery.attempts, "error": delivery.last_error[:200]},
            dedup_key=f"portal-webhook-failed:{delivery.pk}:{admin.pk}",
            link=reverse("admin:portal_webhookdelivery_change", args=[delivery.pk]),
            email=False,
        )


@shared_task(bind=True, name="portal.tasks.deliver_webhook", max_retries=MAX_ATTEMPTS - 1)
def deliver_webhook(self, delivery_id: int) -> str:
    result = attempt(delivery_id)
    if result is False:
        with unscoped("read the attempt count"):
            pending = WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).exists()
        if pending:
            raise self.retry(countdown=BACKOFF_SECONDS * 2**self.request.retries)
    return {True: "delivered", False: "failed", None: "skipped"}[result]
