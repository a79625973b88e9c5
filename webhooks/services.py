"""Outgoing webhooks: subscriptions, events into deliveries, one signed attempt, the circuit breaker, replay.

An event becomes one `WebhookDelivery` per matching active subscription, written in the caller's transaction
(a rolled-back change sends nothing) and queued after commit. A delivery is POSTed with the integration scheme's
headers (`X-CRM-Key`, `X-CRM-Timestamp`, `X-CRM-Signature: sha256=HMAC(secret, timestamp + "." + body)`, see
`accounts.integration.sign`), retried with exponential backoff, and every attempt is logged. A target that keeps
failing opens its circuit breaker: nothing is sent to it until the cool-down ends, then one trial decides.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.integration import sign
from accounts.services import audit_record
from accounts.tenancy import tenant_scope, unscoped
from webhooks.models import (
    BreakerState,
    CircuitBreaker,
    DeliveryAttempt,
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookSubscription,
)

logger = logging.getLogger("crm.webhooks")

SUBSCRIBABLE = [choice for choice in EventType.values if choice != EventType.PORTAL_REQUEST_CREATED]
_CACHE_KEY = "webhooks:subs:{tenant_id}"
_CACHE_SECONDS = 60
# How long an attempt holds its delivery (a second worker that picks the same delivery skips it meanwhile).
LEASE_SECONDS = 120


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_attempts() -> int:
    return _setting("WEBHOOK_MAX_ATTEMPTS", 6)


def backoff_seconds(attempts: int) -> int:
    """Seconds to wait after the `attempts`-th failed attempt: base, 2×, 4×, ... capped."""
    base = _setting("WEBHOOK_BACKOFF_SECONDS", 30)
    return int(min(base * 2 ** max(attempts - 1, 0), _setting("WEBHOOK_BACKOFF_MAX_SECONDS", 3600)))


# --- SSRF guard -----------------------------------------------------------------------------------------------------
class TargetRefused(ValueError):
    """The target URL is not allowed (scheme, or an address inside our own network)."""


def _is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def check_target(url: str, *, resolve: bool = True) -> None:
    """Refuse a non-HTTP(S) URL and, unless WEBHOOKS_ALLOW_PRIVATE_TARGETS, a host that is or resolves to a
    loopback, private, link-local or otherwise non-public address. An unresolvable host passes here (the
    attempt resolves again and fails, to be retried)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(_("Only http:// and https:// URLs with a host name are allowed."))
    if _setting("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False):
        return
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        raise TargetRefused(_("Webhook targets on loopback or private addresses are not allowed."))
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if not resolve:
            return
        try:
            addresses = [info[4][0] for info in socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)]
        except (socket.gaierror, UnicodeError):
            return
    if any(_is_internal(address) for address in addresses):
        raise TargetRefused(_("Webhook targets on loopback or private addresses are not allowed."))


def validate_target(url: str) -> None:
    """Form/serializer validation of a target URL."""
    try:
        check_target(url)
    except TargetRefused as exc:
        raise ValidationError({"target_url": [str(exc)]}) from None


def target_key(url: str) -> str:
    """The breaker's key: scheme://host:port (every path of one server shares its breaker)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


# --- Subscriptions --------------------------------------------------------------------------------------------------
def clean_event_types(event_types) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise ValidationError({"event_types": [_("Choose at least one event type.")]})
    unknown = [value for value in event_types if value not in SUBSCRIBABLE]
    if unknown:
        raise ValidationError({"event_types": [_("Unknown event type: %(value)s") % {"value": unknown[0]}]})
    return sorted(set(event_types))


def subscription_create(*, actor, data: dict[str, Any], request=None) -> tuple[WebhookSubscription, str]:
    """A new subscription with a fresh signing secret; returns it with the secret (shown to the caller once)."""
    validate_target(data["target_url"])
    event_types = clean_event_types(data.get("event_types"))
    secret = secrets.token_hex(32)
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            name=data["name"],
            target_url=data["target_url"],
            event_types=event_types,
            is_active=data.get("is_active", True),
            key_id=f"wh_{secrets.token_hex(8)}",
            secret=secret,
        )
        audit_record(action="crm.webhook.subscription_created", actor=actor, obj=subscription, request=request)
    return subscription, secret


def subscription_update(*, actor, subscription: WebhookSubscription, data: dict[str, Any], request=None):
    changes = {}
    if "target_url" in data:
        validate_target(data["target_url"])
    if "event_types" in data:
        data = {**data, "event_types": clean_event_types(data["event_types"])}
    for field in ("name", "target_url", "event_types", "is_active"):
        if field in data and getattr(subscription, field) != data[field]:
            changes[field] = (getattr(subscription, field), data[field])
            setattr(subscription, field, data[field])
    with transaction.atomic():
        subscription.save()
        if changes:
            audit_record(
                action="crm.webhook.subscription_updated", actor=actor, obj=subscription, changes=changes,
                request=request,
            )  # fmt: skip
    return subscription


def subscription_delete(*, actor, subscription: WebhookSubscription, request=None) -> None:
    with transaction.atomic():
        audit_record(action="crm.webhook.subscription_deleted", actor=actor, obj=subscription, request=request)
        subscription.delete()


def forget_subscriptions(tenant_id: int) -> None:
    """Drop the cached subscription list of a tenant (after any change to its subscriptions)."""
    cache.delete(_CACHE_KEY.format(tenant_id=tenant_id))


def _subscriptions(tenant_id: int) -> list[tuple[int, list[str]]]:
    """(id, event types) of the tenant's active subscriptions: cached a minute, read from the database when the
    cache has nothing (or is down), so most saves of a tenant without subscriptions cost no query."""
    key = _CACHE_KEY.format(tenant_id=tenant_id)
    rows = cache.get(key)
    if rows is None:
        with unscoped("subscriptions of the tenant named by the event"):
            rows = [
                (pk, types)
                for pk, types in WebhookSubscription.objects.filter(tenant_id=tenant_id, is_active=True).values_list(
                    "pk", "event_types"
                )
            ]
        cache.set(key, rows, _CACHE_SECONDS)
    return [tuple(row) for row in rows]


def subscribed(tenant_id: int | None, event_type: str) -> bool:
    """Whether any active subscription of the tenant wants `event_type` (one cache read)."""
    return tenant_id is not None and any(event_type in types for _pk, types in _subscriptions(tenant_id))


# --- Events into deliveries -----------------------------------------------------------------------------------------
def emit(
    event_type: str, *, tenant_id: int | None, data: dict[str, Any] | Callable[[], dict[str, Any]]
) -> list[WebhookDelivery]:
    """One delivery per active subscription of `tenant_id` to `event_type`, queued after the commit.

    `data` may be a callable: it is built only when somebody subscribed (a bulk status change of customers
    loaded with `.only()` would otherwise read every deferred field back, one query each)."""
    if tenant_id is None:
        return []
    wanted = [pk for pk, types in _subscriptions(tenant_id) if event_type in types]
    if not wanted:
        return []
    event = _event(event_type, tenant_id, data() if callable(data) else data)
    deliveries = []
    with unscoped("deliveries of the tenant named by the event"):
        for subscription in WebhookSubscription.objects.filter(pk__in=wanted, tenant_id=tenant_id, is_active=True):
            deliveries.append(
                WebhookDelivery.objects.create(
                    tenant_id=tenant_id,
                    event_id=event["id"],
                    event_type=event_type,
                    subscription=subscription,
                    source="subscription",
                    target_url=subscription.target_url,
                    key_id=subscription.key_id,
                    secret=subscription.secret,
                    payload=event,
                    next_attempt_at=timezone.now(),
                )
            )
    _queue_after_commit([delivery.pk for delivery in deliveries])
    return deliveries


def deliver_to_target(
    *, tenant_id: int, url: str, key_id: str, secret: str, event_type: str, data: dict[str, Any], source: str
) -> WebhookDelivery:
    """A built-in target that is not a subscription (the portal's ticket-system webhook): the same delivery
    path, log, retries and breaker. The body is `data` as it is (the ticket system's contract predates the
    event envelope of subscriptions)."""
    event = {**_event(event_type, tenant_id, {}), "data": None}
    with unscoped("a built-in target of the tenant named by the caller"):
        delivery = WebhookDelivery.objects.create(
            tenant_id=tenant_id,
            event_id=event["id"],
            event_type=event_type,
            source=source,
            target_url=url,
            key_id=key_id,
            secret=secret,
            payload=json.loads(json.dumps(data, default=str)),
            next_attempt_at=timezone.now(),
        )
    _queue_after_commit([delivery.pk])
    return delivery


def _event(event_type: str, tenant_id: int, data: dict[str, Any]) -> dict[str, Any]:
    import uuid

    return {
        "id": str(uuid.uuid4()),
        "event": event_type,
        "occurred_at": timezone.now().isoformat(timespec="seconds"),
        "tenant_id": tenant_id,
        "data": json.loads(json.dumps(data, default=str)),
    }


def _queue_after_commit(ids: list[int]) -> None:
    if ids:
        transaction.on_commit(lambda: queue(ids))


def queue(ids: list[int], countdown: float = 0) -> None:
    """Hand deliveries to the workers. A broker that is down loses nothing: the rows stay pending and the
    `redeliver_due` job queues them again once the broker is back."""
    from webhooks.tasks import deliver

    for pk in ids:
        try:
            deliver.apply_async((pk,), countdown=countdown)
        except Exception:  # noqa: BLE001 — the broker is down: the sweeper picks the row up later
            logger.warning("webhook delivery %s not queued (broker unavailable); the sweeper retries it", pk)


# --- Circuit breaker ------------------------------------------------------------------------------------------------
def _threshold() -> int:
    return _setting("WEBHOOK_BREAKER_THRESHOLD", 5)


def _cooldown() -> timedelta:
    return timedelta(seconds=_setting("WEBHOOK_BREAKER_COOLDOWN_SECONDS", 300))


def breaker_allows(target: str, now=None) -> tuple[bool, float]:
    """(may send now, seconds to wait otherwise). Closed: yes. Open: no until the cool-down ends, then exactly
    one caller wins the half-open trial (a conditional update), the others wait another cool-down."""
    now = now or timezone.now()
    breaker, _created = CircuitBreaker.objects.get_or_create(target=target)
    if breaker.state == BreakerState.CLOSED:
        return True, 0
    due = breaker.opened_at + _cooldown()
    if now < due:
        return False, (due - now).total_seconds()
    won = CircuitBreaker.objects.filter(pk=breaker.pk, state=breaker.state, opened_at=breaker.opened_at).update(
        state=BreakerState.HALF_OPEN, opened_at=now
    )
    return bool(won), 0 if won else _cooldown().total_seconds()


def breaker_record(target: str, *, success: bool, now=None) -> CircuitBreaker:
    now = now or timezone.now()
    breaker, _created = CircuitBreaker.objects.get_or_create(target=target)
    if success:
        CircuitBreaker.objects.filter(pk=breaker.pk).update(
            state=BreakerState.CLOSED, consecutive_failures=0, opened_at=None
        )
    else:
        CircuitBreaker.objects.filter(pk=breaker.pk).update(consecutive_failures=F("consecutive_failures") + 1)
        breaker.refresh_from_db()
        if breaker.state == BreakerState.HALF_OPEN or breaker.consecutive_failures >= _threshold():
            if breaker.state != BreakerState.OPEN:
                logger.warning("webhook circuit breaker opened for %s", target)
            CircuitBreaker.objects.filter(pk=breaker.pk).update(state=BreakerState.OPEN, opened_at=now)
    breaker.refresh_from_db()
    return breaker


# --- One attempt ----------------------------------------------------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: following it could reach an internal address."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """One HTTP POST; (status, first 500 characters of the answer). Raises on a network error."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    timeout = _setting("WEBHOOK_TIMEOUT_SECONDS", 10)
    try:
        with _opener.open(request, timeout=timeout) as response:  # noqa: S310 (checked target)
            return response.status, response.read(500).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(500).decode("utf-8", "replace") if exc.fp else ""


def signed_request(delivery: WebhookDelivery, timestamp: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    timestamp = timestamp or str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "cs-crm-webhooks/1",
        "X-CRM-Key": delivery.key_id,
        "X-CRM-Timestamp": timestamp,
        "X-CRM-Signature": sign(delivery.secret, timestamp, body),
        "X-CRM-Event": delivery.event_type,
        "X-CRM-Delivery": str(delivery.pk),
        # The same event (a replay included) carries the same key: the receiver can drop duplicates.
        "Idempotency-Key": str(delivery.event_id),
    }
    return body, headers


@dataclass
class Outcome:
    """What an attempt did: `retry_in` seconds until the next try, or None when nothing more is to be done."""

    state: str  # "delivered" | "failed" | "retry" | "waiting" (breaker open) | "skipped"
    retry_in: float | None = None


def attempt(delivery_id: int) -> Outcome:
    """Claim the delivery (a conditional update, so two workers never send it at once) and try it once."""
    now = timezone.now()
    with unscoped("the task names its delivery; its tenant comes from the row"):
        claimed = (
            WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=2)))
            .update(next_attempt_at=now + timedelta(seconds=LEASE_SECONDS))
        )
        if not claimed:
            return Outcome("skipped")
        delivery = WebhookDelivery.objects.select_related("tenant").get(pk=delivery_id)
    with tenant_scope(delivery.tenant):
        target = target_key(delivery.target_url)
        first_replay_try = delivery.replay_of_id is not None and delivery.attempts == 0
        if not first_replay_try:  # an administrator's replay is the trial that may close the breaker
            allowed, wait = breaker_allows(target, now)
            if not allowed:
                WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now + timedelta(seconds=wait))
                return Outcome("waiting", wait)
        body, headers = signed_request(delivery)
        code, answer, error = None, "", ""
        started = time.monotonic()
        try:
            check_target(delivery.target_url)
            code, answer = post(delivery.target_url, body, headers)
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except TargetRefused as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 — any network failure is logged and retried
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = int((time.monotonic() - started) * 1000)
        return _record(delivery, target, headers, code, answer, error, duration_ms, started_at=now)


def _record(delivery, target, headers, code, answer, error, duration_ms, *, started_at) -> Outcome:
    now = timezone.now()
    logged_headers = {key: value for key, value in headers.items() if key != "X-CRM-Signature"}
    with transaction.atomic():
        delivery.attempts += 1
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            request_headers=logged_headers,
            response_code=code,
            response_body=answer,
            duration_ms=duration_ms,
            error=error,
            started_at=started_at,
        )
        breaker_record(target, success=not error, now=now)
        delivery.response_code = code
        delivery.last_error = error
        outcome = Outcome("retry")
        if not error:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.finished_at = now
            delivery.next_attempt_at = None
            outcome = Outcome("delivered")
        elif delivery.attempts >= max_attempts():
            delivery.status = DeliveryStatus.FAILED
            delivery.finished_at = now
            delivery.next_attempt_at = None
            outcome = Outcome("failed")
        else:
            wait = backoff_seconds(delivery.attempts)
            delivery.next_attempt_at = now + timedelta(seconds=wait)
            outcome = Outcome("retry", wait)
        delivery.save(
            update_fields=["attempts", "response_code", "last_error", "status", "finished_at", "next_attempt_at"]
        )
        if outcome.state == "failed":
            audit_record(
                action="crm.webhook.delivery_failed", obj=delivery, tenant=delivery.tenant,
                changes={"attempts": (None, delivery.attempts)},
            )  # fmt: skip
            _tell_admins(delivery)
    return outcome


def _tell_admins(delivery: WebhookDelivery) -> None:
    """The tenant's administrators learn of an event a target never received (once per delivery)."""
    from django.urls import reverse

    from accounts.models import User
    from accounts.roles import TENANT_ADMIN
    from accounts.services import notify

    admins = User.objects.filter(tenant_id=delivery.tenant_id, is_active=True, groups__name=TENANT_ADMIN).distinct()
    for admin in admins:
        notify(
            admin,
            "webhook_failed",
            delivery,
            _("Webhook %(event)s could not be delivered to %(url)s after %(n)d attempts: %(error)s")
            % {
                "event": delivery.event_type,
                "url": delivery.target_url,
                "n": delivery.attempts,
                "error": delivery.last_error[:200],
            },
            dedup_key=f"webhook-failed:{delivery.pk}:{admin.pk}",
            link=reverse("webhooks:delivery_list") + "?status=failed",
            email=False,
        )


# --- Replay ---------------------------------------------------------------------------------------------------------
def delivery_replay(*, actor, delivery: WebhookDelivery, request=None) -> WebhookDelivery:
    """Send the same event again (same event id, so the receiver can deduplicate) as a new delivery; a
    subscription's current URL and secret are used when it still exists."""
    subscription = delivery.subscription
    with transaction.atomic():
        replay = WebhookDelivery.objects.create(
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            subscription=subscription,
            source=delivery.source,
            target_url=subscription.target_url if subscription else delivery.target_url,
            key_id=subscription.key_id if subscription else delivery.key_id,
            secret=subscription.secret if subscription else delivery.secret,
            payload=delivery.payload,
            replay_of=delivery,
            next_attempt_at=timezone.now(),
        )
        audit_record(
            action="crm.webhook.delivery_replayed", actor=actor, obj=delivery, request=request,
            changes={"replay": (None, replay.pk)},
        )  # fmt: skip
        _queue_after_commit([replay.pk])
    return replay


def due_deliveries(limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is overdue (their queued task was lost: broker down, worker
    killed). Overdue by more than a lease, so a task that is merely a little late is not doubled."""
    cutoff = timezone.now() - timedelta(seconds=30)
    with unscoped("the sweeper serves every tenant"):
        return list(
            WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=cutoff)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
