"""Every write on communications with its rules (PRD 3.2.6, REQ-016-007). Views, the API and jobs call these."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record, diff_fields, notify
from communications import nlp
from communications.choices import FollowUpStatus, Sentiment
from communications.models import Communication, CommunicationAnalysis, FollowUp
from communications.signals import communication_logged, follow_up_due
from customers import services as customer_services
from customers.choices import CustomerLevel, CustomerStatus
from customers.models import Customer

logger = logging.getLogger(__name__)

COMMUNICATION_FIELDS = (
    "contact",
    "communication_type",
    "direction",
    "subject",
    "content",
    "duration_minutes",
    "outcome",
    "next_action",
    "importance",
    "staff",
    "communication_date",
)
AUDITED_FIELDS = (*COMMUNICATION_FIELDS, "sentiment")
# How far ahead a communication may be dated (a meeting logged the evening before it counts).
FUTURE_SLACK = timedelta(days=1)
BULK_LIMIT = 500
# Longer texts are analysed in the background even from the UI or the API: the synchronous path stays < 50 ms.
SYNC_TEXT_LIMIT = 5000


# --- Analysis ------------------------------------------------------------------------------------------------------
def communication_text(communication: Communication) -> str:
    """The text the analyser reads: subject, content, outcome and next action."""
    parts = (communication.subject, communication.content, communication.outcome, communication.next_action)
    return "\n".join(part for part in parts if part)[: nlp.MAX_TEXT]


def _send_logged(communication: Communication, analysis: CommunicationAnalysis | None, created: bool) -> None:
    def send():
        communication_logged.send(
            sender=Communication,
            communication=communication,
            customer=communication.customer,
            sentiment=communication.sentiment,
            score=analysis.score if analysis else 0.0,
            needs=list(analysis.needs) if analysis else [],
            created=created,
        )

    transaction.on_commit(send)


def communication_analyze(*, communication: Communication, created: bool = False) -> CommunicationAnalysis:
    """Run the offline analyser on one communication and store the result; a staff override stays in force."""
    result = nlp.analyze(communication_text(communication))
    analysis = CommunicationAnalysis.objects.filter(communication=communication).first()
    if analysis is None:
        analysis = CommunicationAnalysis(communication=communication, tenant_id=communication.tenant_id)
    analysis.language = result.language
    analysis.keywords = result.keywords
    analysis.needs = result.needs
    analysis.score = result.score
    analysis.auto_sentiment = result.sentiment
    analysis.analyzer_version = nlp.ANALYZER_VERSION
    analysis.analyzed_at = timezone.now()
    analysis.save()
    effective = analysis.override_sentiment or analysis.auto_sentiment
    if communication.sentiment != effective:
        communication.sentiment = effective
        Communication.objects.filter(pk=communication.pk).update(sentiment=effective)
    communication.analysis = analysis
    _send_logged(communication, analysis, created)
    return analysis


def communications_analyze(*, ids: list[int]) -> int:
    """Background analysis of many communications (imports, bulk API). Rows deleted meanwhile are skipped."""
    done = 0
    for communication in Communication.objects.alive().filter(pk__in=ids).select_related("customer"):
        with transaction.atomic():
            communication_analyze(communication=communication, created=True)
        done += 1
    return done


def _queue_analysis(ids: list[int]) -> None:
    from communications.tasks import analyze_communications

    tenant = Communication.objects.filter(pk__in=ids[:1]).values_list("tenant_id", flat=True).first()
    if tenant is not None:
        transaction.on_commit(lambda: analyze_communications.delay(tenant, ids))


# --- Rules ---------------------------------------------------------------------------------------------------------
def _check(communication: Communication, *, next_action_due: date | None) -> None:
    errors: dict[str, list[str]] = {}
    contact = communication.contact
    if contact is not None and contact.customer_id != communication.customer_id:
        errors["contact_id"] = [_("The contact belongs to another customer.")]
    staff = communication.staff
    if staff is not None and (staff.tenant_id != communication.tenant_id or not staff.is_active):
        errors["staff_id"] = [_("Choose an active user of your organisation.")]
    when = communication.communication_date
    if when is not None and when > timezone.now() + FUTURE_SLACK:
        errors["communication_date"] = [_("A communication cannot be dated more than a day ahead.")]
    if next_action_due is not None and not (communication.next_action or "").strip():
        errors["next_action"] = [_("Describe the next action to set its due date.")]
    if errors:
        raise ValidationError(errors)


def _touch_last_contact(communication: Communication) -> None:
    """Move the customer's and the contact's `last_contact_date` forward to this communication (never back)."""
    when = communication.communication_date
    if when is None or when > timezone.now() + FUTURE_SLACK:
        return
    customer_services.customer_last_contact_touch(
        customer_id=communication.customer_id, contact_id=communication.contact_id, when=when
    )


def _sync_follow_up(communication: Communication, next_action_due: date | None, *, changed: bool) -> None:
    """One open follow-up per communication: created for a due date, replaced when action or date change."""
    current = FollowUp.objects.filter(communication=communication, status=FollowUpStatus.OPEN).first()
    if current is not None and (
        next_action_due is None
        or current.due_date != next_action_due
        or current.action != communication.next_action
        or current.staff_id != communication.staff_id
    ):
        if not changed and next_action_due is None:
            return
        current.status = FollowUpStatus.CANCELLED
        current.save(update_fields=["status"])
        current = None
    if current is None and next_action_due is not None:
        FollowUp.objects.create(
            communication=communication,
            customer=communication.customer,
            staff=communication.staff,
            action=communication.next_action[:200],
            due_date=next_action_due,
        )


def _split(data: dict[str, Any]) -> tuple[dict[str, Any], date | None, int | None, bool, bool]:
    values = {key: value for key, value in data.items() if key in COMMUNICATION_FIELDS}
    return (
        values,
        data.get("next_action_due"),
        data.get("sentiment"),
        "next_action_due" in data,
        "sentiment" in data,
    )


# --- Writes ----------------------------------------------------------------------------------------------------------
@transaction.atomic
def communication_create(
    *, actor: User, customer: Customer, data: dict[str, Any], analyze: str = "sync", request=None
) -> Communication:
    """Log a communication; updates last-contact dates, creates the follow-up, analyses the text.

    `analyze`: "sync" (a single record from the UI or API, a few ms), "background" (imports and bulk calls).
    A `sentiment` in `data` is the author's own judgement and is kept as an override.
    """
    values, next_action_due, sentiment, _has_due, has_sentiment = _split(data)
    values.setdefault("staff", actor)
    values.setdefault("communication_date", timezone.now())
    communication = Communication(customer=customer, **values)
    communication.fill_tenant_from_scope()
    _check(communication, next_action_due=next_action_due)
    communication.full_clean(exclude=["tenant", "customer", "contact", "staff"])
    communication.save()
    _touch_last_contact(communication)
    _sync_follow_up(communication, next_action_due, changed=True)
    if has_sentiment and sentiment:
        CommunicationAnalysis.objects.create(
            communication=communication, override_sentiment=sentiment, overridden_by=actor, overridden_at=timezone.now()
        )
        communication.sentiment = sentiment
        Communication.objects.filter(pk=communication.pk).update(sentiment=sentiment)
    if analyze == "sync" and len(communication_text(communication)) > SYNC_TEXT_LIMIT:
        analyze = "background"
    if analyze == "sync":
        communication_analyze(communication=communication, created=True)
    elif analyze == "background":
        _queue_analysis([communication.pk])
    audit_record(
        action="crm.communication.created",
        actor=actor,
        obj=communication,
        request=request,
        changes={
            "customer_id": (None, customer.pk),
            "communication_type": (None, communication.communication_type),
            "subject": (None, communication.subject),
        },
    )
    return communication


@transaction.atomic
def communications_bulk_create(
    *, actor: User, customer: Customer, items: list[dict[str, Any]], request=None
) -> list[Communication]:
    """Log many communications at once (imports, bulk API); the analysis runs in the background."""
    if len(items) > BULK_LIMIT:
        raise ValidationError({"items": [_("At most %(limit)d items per call.") % {"limit": BULK_LIMIT}]})
    created = []
    for index, item in enumerate(items):
        try:
            created.append(
                communication_create(actor=actor, customer=customer, data=item, analyze="none", request=request)
            )
        except ValidationError as exc:
            raise ValidationError({f"items[{index}].{key}": msgs for key, msgs in exc.message_dict.items()}) from exc
    if created:
        _queue_analysis([c.pk for c in created])
    return created


@transaction.atomic
def communication_update(
    *, actor: User, communication: Communication, data: dict[str, Any], request=None
) -> Communication:
    """Change a communication; the text is analysed again when it changed, the follow-up follows the due date."""
    values, next_action_due, sentiment, has_due, has_sentiment = _split(data)
    changes = diff_fields(communication, values)
    text_before = communication_text(communication)
    for field, value in values.items():
        setattr(communication, field, value)
    if not has_due:
        current = FollowUp.objects.filter(communication=communication, status=FollowUpStatus.OPEN).first()
        next_action_due = current.due_date if current else None
    _check(communication, next_action_due=next_action_due)
    communication.full_clean(exclude=["tenant", "customer", "contact", "staff"])
    communication.save()
    _touch_last_contact(communication)
    _sync_follow_up(communication, next_action_due, changed=True)
    if has_sentiment:
        communication_sentiment_override(actor=actor, communication=communication, sentiment=sentiment, request=request)
    text = communication_text(communication)
    if text != text_before or not hasattr(communication, "analysis"):
        if len(text) > SYNC_TEXT_LIMIT:
            _queue_analysis([communication.pk])
        else:
            communication_analyze(communication=communication)
    if changes:
        audit_record(
            action="crm.communication.updated", actor=actor, obj=communication, request=request, changes=changes
        )
    return communication


@transaction.atomic
def communication_delete(*, actor: User, communication: Communication, request=None) -> None:
    """Soft delete: the row stays for the audit trail; its open follow-ups are cancelled."""
    communication.deleted_at = timezone.now()
    communication.save(update_fields=["deleted_at", "updated_at"])
    FollowUp.objects.filter(communication=communication, status=FollowUpStatus.OPEN).update(
        status=FollowUpStatus.CANCELLED
    )
    audit_record(action="crm.communication.deleted", actor=actor, obj=communication, request=request)


@transaction.atomic
def communication_sentiment_override(
    *, actor: User, communication: Communication, sentiment: int | None, request=None
) -> Communication:
    """A staff member's judgement replaces the analyser's (None goes back to the analyser's); audited."""
    if sentiment is not None and sentiment not in Sentiment.values:
        raise ValidationError({"sentiment": [_("Choose 1 (negative), 2 (neutral) or 3 (positive).")]})
    analysis = CommunicationAnalysis.objects.filter(communication=communication).first()
    if analysis is None:
        analysis = CommunicationAnalysis(communication=communication, tenant_id=communication.tenant_id)
    old = communication.sentiment
    analysis.override_sentiment = sentiment
    analysis.overridden_by = actor if sentiment is not None else None
    analysis.overridden_at = timezone.now() if sentiment is not None else None
    analysis.save()
    effective = sentiment or analysis.auto_sentiment
    communication.sentiment = effective
    Communication.objects.filter(pk=communication.pk).update(sentiment=effective)
    communication.analysis = analysis
    audit_record(
        action="crm.communication.sentiment_overridden"
        if sentiment is not None
        else "crm.communication.sentiment_reset",
        actor=actor,
        obj=communication,
        request=request,
        changes={"sentiment": (old, effective)},
    )
    _send_logged(communication, analysis, False)
    return communication


@transaction.atomic
def follow_up_complete(*, actor: User, follow_up: FollowUp, request=None) -> FollowUp:
    if follow_up.status != FollowUpStatus.OPEN:
        raise ValidationError({"status": [_("This follow-up is already closed.")]})
    follow_up.status = FollowUpStatus.DONE
    follow_up.completed_at = timezone.now()
    follow_up.save(update_fields=["status", "completed_at"])
    audit_record(
        action="crm.communication.follow_up_done",
        actor=actor,
        obj=follow_up.communication,
        request=request,
        changes={"follow_up": (follow_up.action, _("done"))},
    )
    return follow_up


# --- Merge ---------------------------------------------------------------------------------------------------------
def communications_move_to_customer(*, source: Customer, target: Customer, actor: User | None = None) -> dict[str, int]:
    """A merge moves every communication and follow-up of `source` to `target`; contacts move with their customer
    in the customers app, so the links stay; the survivor's last-contact date follows."""
    moved = Communication.objects.filter(customer=source).update(customer=target)
    follow_ups = FollowUp.objects.filter(customer=source).update(customer=target)
    latest = Communication.objects.alive().filter(customer=target).order_by("-communication_date").first()
    if latest is not None:
        _touch_last_contact(Communication(customer_id=target.pk, communication_date=latest.communication_date))
    return {"communications": moved, "follow_ups": follow_ups}


# --- Reminders -------------------------------------------------------------------------------------------------------
def follow_up_reminders_send(*, today: date) -> dict[str, int]:
    """Remind each staff member once of every overdue open follow-up (reminded_at + a notification key)."""
    from communications.selectors import follow_ups_overdue

    counts = {"overdue": 0, "reminded": 0}
    for follow_up in follow_ups_overdue(today):
        counts["overdue"] += 1
        message = _("Follow-up for %(customer)s was due on %(due)s: %(action)s") % {
            "customer": follow_up.customer.customer_name,
            "due": follow_up.due_date.isoformat(),
            "action": follow_up.action,
        }
        sent = notify(
            follow_up.staff,
            "communication.follow_up_overdue",
            follow_up.communication,
            message,
            dedup_key=f"followup:{follow_up.pk}",
            link=f"/customers/{follow_up.customer_id}/?tab=communications",
        )
        FollowUp.objects.filter(pk=follow_up.pk).update(reminded_at=timezone.now())
        if sent is not None:
            counts["reminded"] += 1
            follow_up_due.send(sender=FollowUp, follow_up=follow_up, customer=follow_up.customer, staff=follow_up.staff)
    return counts


def contact_intervals() -> dict[int, int]:
    """Days without contact after which an important customer's manager is reminded, per level (0 = never)."""
    return {
        CustomerLevel.STRATEGIC: settings.CONTACT_INTERVAL_STRATEGIC_DAYS,
        CustomerLevel.VIP: settings.CONTACT_INTERVAL_VIP_DAYS,
        CustomerLevel.IMPORTANT: settings.CONTACT_INTERVAL_IMPORTANT_DAYS,
    }


def contact_gap_reminders_send(*, now: datetime) -> dict[str, int]:
    """Remind the manager of an important customer not contacted within its level's interval.

    Once per gap: the notification key is the customer plus the gap's start (the last contact, or the
    customer's creation), so the daily run repeats nothing until a new contact opens a new gap.
    """
    counts = {"due": 0, "reminded": 0}
    for level, days in contact_intervals().items():
        if days <= 0:
            continue
        cutoff = now - timedelta(days=days)
        customers = (
            Customer.objects.alive()
            .filter(level=level, assigned_manager__isnull=False)
            .exclude(status=CustomerStatus.LOST)
            .filter(Q(last_contact_date__lt=cutoff) | Q(last_contact_date__isnull=True, created_at__lt=cutoff))
            .select_related("assigned_manager")
        )
        for customer in customers:
            counts["due"] += 1
            gap_start = customer.last_contact_date or customer.created_at
            message = _(
                "%(customer)s (%(level)s) has not been contacted for %(days)d days (interval %(interval)d)."
            ) % {
                "customer": customer.customer_name,
                "level": customer.get_level_display(),
                "days": (now - gap_start).days,
                "interval": days,
            }
            sent = notify(
                customer.assigned_manager,
                "communication.no_contact",
                customer,
                message,
                dedup_key=f"nocontact:{customer.pk}:{gap_start.isoformat()}",
                link=f"/customers/{customer.pk}/?tab=communications",
            )
            if sent is not None:
                counts["reminded"] += 1
    return counts
