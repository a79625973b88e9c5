"""The decision chain of a customer (PRD 2.1.1): its contacts as an influence map, with the gaps flagged.

Roles: a contact flagged `is_decision_maker` is a decision maker; otherwise a high or medium `influence_level` makes
an influencer; everyone else is a user. "Contacted" means a live communication logged with that contact.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from communications.models import Communication
from customers.choices import InfluenceLevel
from customers.models import Customer, CustomerContact

DECISION_MAKER, INFLUENCER, USER = "decision_maker", "influencer", "user"
CONTACT_WINDOW_DAYS = 90


def role_of(contact: CustomerContact) -> str:
    if contact.is_decision_maker:
        return DECISION_MAKER
    if contact.influence_level in (InfluenceLevel.HIGH, InfluenceLevel.MEDIUM):
        return INFLUENCER
    return USER


def decision_chain(customer: Customer, *, now: datetime | None = None) -> dict[str, Any]:
    """Contacts grouped by role (each with its last communication) and the gaps. Two queries."""
    now = now or timezone.now()
    contacts = list(CustomerContact.objects.filter(customer=customer).order_by("-influence_level", "contact_name"))
    last = dict(
        Communication.objects.alive()
        .filter(customer=customer, contact__in=[c.pk for c in contacts], communication_date__lte=now)
        .values_list("contact_id")
        .annotate(last=Max("communication_date"))
        .order_by()
    )
    groups: dict[str, list[dict[str, Any]]] = {DECISION_MAKER: [], INFLUENCER: [], USER: []}
    for contact in contacts:
        groups[role_of(contact)].append(
            {
                "contact_id": contact.pk,
                "contact_name": contact.contact_name,
                "position": contact.position,
                "department": contact.department,
                "influence_level": contact.influence_level,
                "is_primary": contact.is_primary,
                "last_communication": last.get(contact.pk),
            }
        )
    since = now - timedelta(days=CONTACT_WINDOW_DAYS)
    gaps = []
    makers = groups[DECISION_MAKER]
    if not makers:
        gaps.append({"code": "no_decision_maker", "message": _("No decision maker")})
    elif not any(m["last_communication"] and m["last_communication"] >= since for m in makers):
        gaps.append(
            {
                "code": "decision_maker_not_contacted",
                "message": _("No decision maker contacted in %(d)d days") % {"d": CONTACT_WINDOW_DAYS},
            }
        )
    if not groups[INFLUENCER] and contacts:
        gaps.append({"code": "no_influencer", "message": _("No influencer")})
    return {
        "customer_id": customer.pk,
        "decision_makers": makers,
        "influencers": groups[INFLUENCER],
        "users": groups[USER],
        "gaps": gaps,
    }
