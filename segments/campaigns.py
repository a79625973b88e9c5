"""Campaigns (PRD 2.3.1): a segment's members snapshotted at launch, a seeded control hold-out, e-mail and CSM
task channels, outcomes attributed per member within a window by an idempotent job, and the results maths.

Definitions (docs/segments.md, "Campaigns"):

* window: from the launch (local date / instant) to `attribution_days` days after it, both ends included;
* responded: an inbound communication or an NPS answer of the customer inside the window;
* converted: renewal / upsell: a contract signed inside the window (a renewal is a new contract); satisfaction: a
  service rating of 4 or 5 or an NPS score of 9-10 inside the window; training: a meeting logged inside the window;
* revenue: the amounts of the contracts signed inside the window (whatever the goal);
* conversion rate = converted / members of the group; ROI = (revenue of the treated group - cost) / cost;
  uplift = conversion rate treated - conversion rate control (percentage points); incremental revenue =
  (revenue per treated member - revenue per control member) x treated members.
"""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.services import audit_record
from communications.choices import CommunicationType, Direction
from communications.models import Communication
from contracts.models import Contract
from crm_project.placeholders import PlaceholderTemplates
from customers.models import Customer, CustomerContact
from customers.signals import success_task_requested
from segments.models import Campaign, CampaignGoal, CampaignMember, CampaignStatus, Segment
from segments.rules import SIGNED, apply_rules
from service_records.models import NpsResponse, ServiceRecord

logger = logging.getLogger(__name__)

MAX_CONTROL_PERCENT = 50
MAX_ATTRIBUTION_DAYS = 365
EDITABLE = (
    "name",
    "description",
    "segment",
    "goal",
    "send_email",
    "email_subject",
    "email_body",
    "create_tasks",
    "task_title",
    "cost",
    "control_percent",
    "control_seed",
    "attribution_days",
)

# --- Message templates: `{customer_name}` placeholders, nothing else ---------------------------------------------
TEMPLATES = PlaceholderTemplates(
    {
        "customer_name": gettext_lazy("customer name"),
        "customer_code": gettext_lazy("customer code"),
        "contact_name": gettext_lazy("contact name"),
        "manager": gettext_lazy("customer manager"),
        "renewal_date": gettext_lazy("next renewal date"),
        "campaign": gettext_lazy("campaign name"),
    }
)
FACTS = TEMPLATES.facts
unknown_placeholders = TEMPLATES.unknown
render = TEMPLATES.render


# --- CRUD ---------------------------------------------------------------------------------------------------------
def _validate(campaign: Campaign) -> None:
    errors: dict[str, list[str]] = {}
    campaign.name = (campaign.name or "").strip()
    if not campaign.name:
        errors["name"] = [_("This field is required.")]
    elif Campaign.objects.filter(name=campaign.name).exclude(pk=campaign.pk).exists():
        errors["name"] = [_("A campaign with this name already exists.")]
    if campaign.control_percent > MAX_CONTROL_PERCENT:
        errors["control_percent"] = [_("At most %(n)d %%.") % {"n": MAX_CONTROL_PERCENT}]
    if not 1 <= campaign.attribution_days <= MAX_ATTRIBUTION_DAYS:
        errors["attribution_days"] = [_("Between 1 and %(n)d days.") % {"n": MAX_ATTRIBUTION_DAYS}]
    if campaign.cost is not None and campaign.cost < 0:
        errors["cost"] = [_("The cost cannot be negative.")]
    if campaign.send_email:
        if not campaign.email_subject.strip():
            errors["email_subject"] = [_("An e-mail campaign needs a subject.")]
        if not campaign.email_body.strip():
            errors["email_body"] = [_("An e-mail campaign needs a body.")]
    if campaign.create_tasks and not campaign.task_title.strip():
        errors["task_title"] = [_("A task campaign needs a task title.")]
    for field in ("email_subject", "email_body", "task_title"):
        unknown = unknown_placeholders(getattr(campaign, field))
        if unknown:
            errors.setdefault(field, []).append(
                _("Unknown placeholder(s): %(names)s. Known: %(known)s.")
                % {"names": ", ".join(f"{{{n}}}" for n in unknown), "known": ", ".join(f"{{{k}}}" for k in FACTS)}
            )
    if errors:
        raise ValidationError(errors)
    campaign.full_clean(exclude=["tenant", "segment", "created_by", "launched_by"])


@transaction.atomic
def campaign_create(*, actor: User | None, data: dict, request=None) -> Campaign:
    campaign = Campaign(created_by=actor)
    for key in EDITABLE:
        if key in data and data[key] is not None:
            setattr(campaign, key, data[key])
    _validate(campaign)
    campaign.save()
    audit_record(action="crm.campaign.created", actor=actor, obj=campaign, request=request)
    return campaign


class CampaignLaunched(ValidationError):
    pass


@transaction.atomic
def campaign_update(*, actor: User, campaign: Campaign, data: dict, request=None) -> Campaign:
    """Edit a draft; once launched only the name, description, cost and attribution window may change."""
    after_launch = {"name", "description", "cost", "attribution_days"}
    changes = {}
    for key in EDITABLE:
        if key not in data or data[key] is None and key not in ("segment",):
            continue
        old = getattr(campaign, key)
        if old == data[key]:
            continue
        if campaign.status == CampaignStatus.LAUNCHED and key not in after_launch:
            raise CampaignLaunched({key: [_("A launched campaign keeps its audience and channels.")]})
        changes[key] = (str(old) if key == "segment" else old, str(data[key]) if key == "segment" else data[key])
        setattr(campaign, key, data[key])
    if not changes:
        return campaign
    _validate(campaign)
    campaign.save()
    audit_record(action="crm.campaign.updated", actor=actor, obj=campaign, changes=changes, request=request)
    if campaign.status == CampaignStatus.LAUNCHED and {"attribution_days"} & changes.keys():
        campaign_attribute(campaign=campaign)
    return campaign


@transaction.atomic
def campaign_delete(*, actor: User, campaign: Campaign, request=None) -> None:
    audit_record(action="crm.campaign.deleted", actor=actor, obj=campaign, request=request)
    campaign.delete()


# --- Launch -------------------------------------------------------------------------------------------------------
def control_split(customer_ids: list[int], percent: int, seed: int) -> set[int]:
    """The hold-out: `floor(n x percent / 100)` ids drawn with `random.Random(seed)` from the sorted ids."""
    ids = sorted(customer_ids)
    size = len(ids) * percent // 100
    return set(random.Random(seed).sample(ids, size)) if size else set()


def _contact_emails(customer_ids: list[int]) -> dict[int, tuple[str, str]]:
    """customer id → (e-mail, contact name): the primary contact's, else the first contact with an e-mail."""
    found: dict[int, tuple[str, str]] = {}
    rows = (
        CustomerContact.objects.filter(customer_id__in=customer_ids)
        .exclude(email="")
        .order_by("customer_id", "-is_primary", "pk")
        .values_list("customer_id", "email", "contact_name")
    )
    for customer_id, email, name in rows:
        found.setdefault(customer_id, (email, name))
    return found


@dataclass
class LaunchResult:
    members: int
    control: int
    emails: int  # e-mails queued (treated members with an address, when the campaign sends e-mail)
    tasks: int  # CSM tasks queued (treated members, when the campaign creates tasks)


@transaction.atomic
def campaign_launch(
    *, actor: User | None, campaign: Campaign, now: datetime | None = None, request=None
) -> LaunchResult:
    """Snapshot the segment's members now and draw the control group. The treated members are contacted in the
    background after the commit (`segments.tasks.contact_campaign`, see `campaign_contact`)."""
    now = now or timezone.now()
    original, campaign = campaign, Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.DRAFT:
        raise CampaignLaunched({"status": [_("This campaign was already launched.")]})
    if campaign.segment_id is None:
        raise ValidationError({"segment": [_("Choose the segment the campaign targets.")]})
    segment = Segment.objects.get(pk=campaign.segment_id)
    customer_ids = list(
        apply_rules(Customer.objects.alive(), segment.rules, today=timezone.localdate(now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not customer_ids:
        raise ValidationError({"segment": [_("The segment has no members now.")]})
    if not campaign.control_seed:
        campaign.control_seed = secrets.randbelow(2**31 - 1) + 1
    control = control_split(customer_ids, campaign.control_percent, campaign.control_seed)
    emails = _contact_emails(customer_ids) if campaign.send_email else {}
    members = [
        CampaignMember(
            campaign=campaign,
            customer_id=pk,
            is_control=pk in control,
            email=emails.get(pk, ("", ""))[0] if pk not in control else "",
        )
        for pk in customer_ids
    ]
    CampaignMember.objects.bulk_create(members)
    treated = [m for m in members if not m.is_control]
    campaign.status, campaign.launched_at, campaign.launched_by = CampaignStatus.LAUNCHED, now, actor
    campaign.contacts_finished_at = None
    update = ["status", "launched_at", "launched_by", "control_seed", "contacts_finished_at", "updated_at"]
    campaign.save(update_fields=update)
    audit_record(
        action="crm.campaign.launched",
        actor=actor,
        obj=campaign,
        changes={
            "members": (None, len(members)),
            "control": (None, len(control)),
            "seed": (None, campaign.control_seed),
        },
        request=request,
    )
    tenant_id, campaign_id, actor_id = campaign.tenant_id, campaign.pk, getattr(actor, "pk", None)
    transaction.on_commit(lambda: _queue_contact(tenant_id, campaign_id, actor_id))
    for key in ("status", "launched_at", "launched_by", "control_seed", "contacts_finished_at"):
        setattr(original, key, getattr(campaign, key))
    return LaunchResult(
        members=len(members),
        control=len(control),
        emails=sum(1 for m in treated if m.email) if campaign.send_email else 0,
        tasks=len(treated) if campaign.create_tasks else 0,
    )


def _queue_contact(tenant_id: int, campaign_id: int, actor_id: int | None) -> None:
    from segments.tasks import contact_campaign

    contact_campaign.delay(tenant_id, campaign_id, actor_id)


def campaign_contact(*, campaign: Campaign, actor: User | None = None, now: datetime | None = None) -> dict:
    """Contact the treated members not handled yet: the e-mail (unless already sent) and the CSM task (unless already
    created). Idempotent and safe to run twice at once: each member is locked while it is handled, and a member
    already handled, mailed or given a task is never contacted again. A member whose e-mail failed stays unhandled
    (the next run tries again); the campaign is finished when every treated member is handled."""
    now = now or timezone.now()
    counts = {"handled": 0, "emails": 0, "tasks": 0, "failed": 0}
    if campaign.status != CampaignStatus.LAUNCHED:
        return counts
    pending = list(
        CampaignMember.objects.filter(campaign=campaign, is_control=False, handled_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    connection = get_connection(fail_silently=False) if campaign.send_email and pending else None
    contact_names = {}
    if campaign.send_email and pending:
        ids = CampaignMember.objects.filter(pk__in=pending).values_list("customer_id", flat=True)
        contact_names = {pk: name for pk, (_email, name) in _contact_emails(list(ids)).items()}
    for member_pk in pending:
        outcome = _contact_member(campaign, member_pk, actor, now, connection, contact_names)
        for key in outcome:
            counts[key] += 1
    left = CampaignMember.objects.filter(campaign=campaign, is_control=False, handled_at__isnull=True).exists()
    if not left:
        Campaign.objects.filter(pk=campaign.pk, contacts_finished_at__isnull=True).update(contacts_finished_at=now)
        campaign.contacts_finished_at = campaign.contacts_finished_at or now
    return counts


def _request_task(campaign: Campaign, customer: Customer, facts: dict, actor, now: datetime):
    """One task for the customer's CSM through the success_tasks receiver (none when that app is absent)."""
    responses = success_task_requested.send_robust(
        sender=Campaign,
        customer=customer,
        title=render(campaign.task_title, facts)[:200],
        description=_("Campaign: %(name)s") % {"name": campaign.name},
        goal=campaign.goal,
        due_date=now + timedelta(days=14),
        actor=actor,
    )
    for _receiver, result in responses:
        if isinstance(result, Exception):
            logger.warning("campaign %s: no task for customer %s: %s", campaign.pk, customer.pk, result)
            continue
        if getattr(result, "pk", None):
            return result
    return None


def _contact_member(campaign, member_pk, actor, now, connection, contact_names) -> list[str]:
    """One member in its own transaction, its row locked (a concurrent run waits, then sees it handled)."""
    with transaction.atomic():
        member = (
            CampaignMember.objects.select_for_update()
            .filter(pk=member_pk, handled_at__isnull=True)
            .select_related("customer__assigned_manager")
            .first()
        )
        if member is None:
            return []
        customer = member.customer
        facts = {
            "customer_name": customer.customer_name,
            "customer_code": customer.customer_code,
            "contact_name": contact_names.get(customer.pk, ""),
            "manager": customer.assigned_manager.get_display_name() if customer.assigned_manager_id else "",
            "renewal_date": customer.next_renewal_date or "",
            "campaign": campaign.name,
        }
        outcome = []
        if campaign.create_tasks and member.task_id is None:
            task = _request_task(campaign, customer, facts, actor, now)
            if task is not None:
                member.task_id = task.pk
                member.contacted_at = member.contacted_at or now
                outcome.append("tasks")
        failed = False
        if campaign.send_email and member.email and not member.email_sent:
            subject = render(campaign.email_subject, facts).replace("\n", " ")[:200]
            message = EmailMessage(
                subject, render(campaign.email_body, facts), settings.DEFAULT_FROM_EMAIL, [member.email]
            )
            message.connection = connection
            try:
                message.send()
            except Exception:  # one bad address must not stop the others; the next run tries again
                logger.exception("campaign e-mail to member %s failed", member.pk)
                failed = True
            else:
                member.email_sent = True
                member.contacted_at = member.contacted_at or now
                outcome.append("emails")
        if failed:
            outcome.append("failed")
        else:
            member.handled_at = now
            outcome.append("handled")
        member.save(update_fields=["task_id", "contacted_at", "email_sent", "handled_at"])
    return outcome


def campaigns_contact_pending(*, now: datetime | None = None) -> dict:
    """The sweep behind the `contact_campaigns` job: finish every launched campaign whose fan-out is unfinished
    (a lost queue message, a worker stopped mid-way, e-mails that failed)."""
    totals = {"campaigns": 0, "handled": 0, "emails": 0, "tasks": 0, "failed": 0}
    pending = Campaign.objects.filter(status=CampaignStatus.LAUNCHED, contacts_finished_at__isnull=True)
    for campaign in pending.order_by("pk"):
        totals["campaigns"] += 1
        for key, value in campaign_contact(campaign=campaign, actor=campaign.launched_by, now=now).items():
            totals[key] += value
    return totals


def contact_progress(campaign: Campaign) -> dict:
    """The fan-out's progress for the campaign page: treated members handled so far, e-mails sent, tasks created."""
    from django.db.models import Count, Q

    return CampaignMember.objects.filter(campaign=campaign, is_control=False).aggregate(
        treated=Count("pk"),
        handled=Count("pk", filter=Q(handled_at__isnull=False)),
        emails=Count("pk", filter=Q(email_sent=True)),
        tasks=Count("pk", filter=Q(task_id__isnull=False)),
    )


# --- Attribution (idempotent job) -----------------------------------------------------------------------------
def window(campaign: Campaign) -> tuple[date, date, datetime, datetime]:
    start = campaign.launched_at
    end = start + timedelta(days=campaign.attribution_days)
    return timezone.localdate(start), timezone.localdate(end), start, end


@transaction.atomic
def campaign_attribute(*, campaign: Campaign, now: datetime | None = None) -> dict:
    """Recompute every member's responded / converted / revenue from the sources (set, never added: rerunning
    gives the same figures). Only launched campaigns."""
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign.pk)
    if campaign.status != CampaignStatus.LAUNCHED or campaign.launched_at is None:
        return {"members": 0, "changed": 0}
    day0, day1, start, end = window(campaign)
    members = list(CampaignMember.objects.filter(campaign=campaign).order_by("pk"))
    ids = [m.customer_id for m in members]

    def first(rows) -> dict[int, Any]:
        found: dict[int, Any] = {}
        for customer_id, when in rows:
            if when is not None and (customer_id not in found or when < found[customer_id]):
                found[customer_id] = when
        return found

    contracts = Contract.objects.filter(
        customer_id__in=ids, status__in=SIGNED, signed_date__gte=day0, signed_date__lte=day1
    ).values_list("customer_id", "signed_date", "contract_amount")
    revenue: dict[int, Decimal] = {}
    signed: dict[int, date] = {}
    for customer_id, day, amount in contracts:
        revenue[customer_id] = revenue.get(customer_id, Decimal(0)) + amount
        signed[customer_id] = min(day, signed.get(customer_id, day))
    comms = Communication.objects.alive().filter(
        customer_id__in=ids, communication_date__gte=start, communication_date__lte=end
    )
    nps = NpsResponse.objects.filter(customer_id__in=ids, responded_at__gte=start, responded_at__lte=end)
    responded = first(comms.filter(direction=Direction.INBOUND).values_list("customer_id", "communication_date"))
    for customer_id, when in first(nps.values_list("customer_id", "responded_at")).items():
        responded[customer_id] = min(when, responded.get(customer_id, when))
    if campaign.goal in (CampaignGoal.RENEWAL, CampaignGoal.UPSELL):
        converted = dict(signed)
    elif campaign.goal == CampaignGoal.SATISFACTION:
        happy = first(
            ServiceRecord.objects.filter(
                customer_id__in=ids, rated_at__gte=start, rated_at__lte=end, satisfaction_overall__gte=4
            ).values_list("customer_id", "rated_at")
        )
        for customer_id, when in first(nps.filter(score__gte=9).values_list("customer_id", "responded_at")).items():
            happy[customer_id] = min(when, happy.get(customer_id, when))
        converted = {k: timezone.localdate(v) for k, v in happy.items()}
    else:
        meetings = first(
            comms.filter(communication_type=CommunicationType.MEETING).values_list("customer_id", "communication_date")
        )
        converted = {k: timezone.localdate(v) for k, v in meetings.items()}
    changed = []
    for member in members:
        values = (
            responded.get(member.customer_id),
            converted.get(member.customer_id),
            revenue.get(member.customer_id, Decimal("0.00")),
        )
        if (member.responded_at, member.converted_at, member.revenue) != values:
            member.responded_at, member.converted_at, member.revenue = values
            changed.append(member)
    CampaignMember.objects.bulk_update(changed, ["responded_at", "converted_at", "revenue"], batch_size=500)
    Campaign.objects.filter(pk=campaign.pk).update(attributed_at=now)
    campaign.attributed_at = now
    return {"members": len(members), "changed": len(changed)}


def campaigns_attribute_all(*, now: datetime | None = None) -> dict:
    """The nightly job: every launched campaign whose window closed at most 7 days ago (later rows are final)."""
    now = now or timezone.now()
    totals = {"campaigns": 0, "changed": 0}
    for campaign in Campaign.objects.filter(status=CampaignStatus.LAUNCHED).order_by("pk"):
        if campaign.launched_at + timedelta(days=campaign.attribution_days + 7) < now and campaign.attributed_at:
            continue
        result = campaign_attribute(campaign=campaign, now=now)
        totals["campaigns"] += 1
        totals["changed"] += result.get("changed", 0)
    return totals


# --- Results ------------------------------------------------------------------------------------------------------
def _ratio(a, b) -> Decimal | None:
    if not b:
        return None
    return (Decimal(a) / Decimal(b)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def results_from(*, cost: Decimal, treated: dict, control: dict) -> dict:
    """Pure maths of the results: each group dict has members, contacted, responded, converted, revenue."""
    out: dict[str, Any] = {"treated": dict(treated), "control": dict(control), "cost": cost}
    for group in (out["treated"], out["control"]):
        group["conversion_rate"] = _ratio(group["converted"], group["members"])
        group["response_rate"] = _ratio(group["responded"], group["members"])
        group["revenue_per_member"] = _ratio(group["revenue"], group["members"])
    t, c = out["treated"], out["control"]
    out["revenue"] = t["revenue"]
    out["conversion_rate"] = t["conversion_rate"]
    out["roi"] = _ratio(t["revenue"] - cost, cost) if cost else None
    if c["members"] and t["members"]:
        out["uplift"] = t["conversion_rate"] - c["conversion_rate"]
        incremental = (Decimal(t["revenue"]) / t["members"] - Decimal(c["revenue"]) / c["members"]) * t["members"]
        out["incremental_revenue"] = incremental.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        out["incremental_roi"] = _ratio(out["incremental_revenue"] - cost, cost) if cost else None
    else:
        out["uplift"] = out["incremental_revenue"] = out["incremental_roi"] = None
    return out


def campaign_results(campaign: Campaign, members=None) -> dict:
    """Group figures of a campaign (two aggregate queries)."""
    from django.db.models import Count, Q, Sum

    members = members if members is not None else CampaignMember.objects.filter(campaign=campaign)
    groups = {}
    for key, is_control in (("treated", False), ("control", True)):
        row = members.filter(is_control=is_control).aggregate(
            members=Count("pk"),
            contacted=Count("pk", filter=Q(contacted_at__isnull=False)),
            responded=Count("pk", filter=Q(responded_at__isnull=False)),
            converted=Count("pk", filter=Q(converted_at__isnull=False)),
            revenue=Sum("revenue"),
        )
        row["revenue"] = row["revenue"] or Decimal("0.00")
        groups[key] = row
    return results_from(cost=campaign.cost, treated=groups["treated"], control=groups["control"])


def campaign_member_visible_ids(user: User):
    from customers.selectors import customers_visible_to

    return customers_visible_to(user).values("pk")
