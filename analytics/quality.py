"""Data quality (PRD 8.2.1): per-customer completeness, contact accuracy, the tenant report and its one-click fixes,
the weekly reminder to managers. Items and formulas: docs/analytics.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.services import audit_record, notify
from customers import services as customer_services
from customers.choices import ContactPointStatus
from customers.models import Customer, CustomerContact
from customers.validators import validate_email, validate_mobile

BASIC_TARGET = 95.0  # PRD: basic information ≥ 95 % complete
ACCURACY_TARGET = 90.0  # PRD: contacts ≥ 90 % accurate

# The items a customer record is scored on, each worth the same (score = filled / 9 × 100).
ITEMS = {
    "industry": gettext_lazy("Industry"),
    "scale": gettext_lazy("Scale"),
    "address": gettext_lazy("Address"),
    "region": gettext_lazy("Region"),
    "assigned_manager": gettext_lazy("Customer manager"),
    "contact": gettext_lazy("At least one contact"),
    "primary_contact": gettext_lazy("A primary contact"),
    "decision_maker": gettext_lazy("A decision maker among the contacts"),
    "reachable": gettext_lazy("A contact with an accurate e-mail or mobile"),
}
FIELD_ITEMS = ("industry", "scale", "address", "region")


def _valid(validator, value: str) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


@dataclass
class ContactCheck:
    contact_id: int
    name: str
    email: str
    mobile: str
    email_problem: str = ""  # "", "invalid", "bounced", "wrong"
    mobile_problem: str = ""

    @property
    def accurate(self) -> bool:
        """At least one way to reach the person, and every e-mail / mobile present is well-formed and not marked."""
        return bool(self.email or self.mobile) and not self.email_problem and not self.mobile_problem


def check_contact(row: dict[str, Any]) -> ContactCheck:
    check = ContactCheck(row["id"], row["contact_name"], row["email"] or "", row["mobile"] or "")
    if check.email:
        check.email_problem = row["email_status"] or ("" if _valid(validate_email, check.email) else "invalid")
    if check.mobile:
        check.mobile_problem = row["mobile_status"] or ("" if _valid(validate_mobile, check.mobile) else "invalid")
    return check


@dataclass
class CustomerQuality:
    customer_id: int
    customer_name: str
    assigned_manager_id: int | None
    created_by_id: int | None
    missing: list[str] = field(default_factory=list)
    contacts: list[ContactCheck] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(100 * (len(ITEMS) - len(self.missing)) / len(ITEMS), 1)

    @property
    def missing_labels(self) -> list[str]:
        return [str(ITEMS[key]) for key in self.missing]

    @property
    def inaccurate_contacts(self) -> list[ContactCheck]:
        return [c for c in self.contacts if not c.accurate]


def customers_quality(customers) -> list[CustomerQuality]:
    """Completeness and contact accuracy of these customers: two queries whatever their number."""
    rows = list(
        customers.order_by()
        .values("pk", "customer_name", "assigned_manager_id", "created_by_id", *FIELD_ITEMS)
        .order_by("pk")
    )
    by_customer: dict[int, list[dict]] = defaultdict(list)
    for contact in (
        CustomerContact.objects.filter(customer__in=customers.order_by().values("pk"))
        .order_by("customer_id", "id")
        .values(
            "id",
            "customer_id",
            "contact_name",
            "email",
            "mobile",
            "email_status",
            "mobile_status",
            "is_primary",
            "is_decision_maker",
        )
    ):
        by_customer[contact["customer_id"]].append(contact)
    result = []
    for row in rows:
        contacts = by_customer.get(row["pk"], [])
        checks = [check_contact(c) for c in contacts]
        missing = [key for key in FIELD_ITEMS if not (row[key] or "").strip()]
        if not row["assigned_manager_id"]:
            missing.append("assigned_manager")
        if not contacts:
            missing.append("contact")
        if not any(c["is_primary"] for c in contacts):
            missing.append("primary_contact")
        if not any(c["is_decision_maker"] for c in contacts):
            missing.append("decision_maker")
        if not any(c.accurate for c in checks):
            missing.append("reachable")
        result.append(
            CustomerQuality(
                customer_id=row["pk"],
                customer_name=row["customer_name"],
                assigned_manager_id=row["assigned_manager_id"],
                created_by_id=row["created_by_id"],
                missing=missing,
                contacts=checks,
            )
        )
    return result


def summary(qualities: list[CustomerQuality]) -> dict[str, Any]:
    """Tenant figures against the PRD targets: basic information completeness and contact accuracy (percent)."""
    customers = len(qualities)
    basic = round(sum(q.score for q in qualities) / customers, 1) if customers else None
    contacts = [c for q in qualities for c in q.contacts]
    accurate = sum(1 for c in contacts if c.accurate)
    accuracy = round(100 * accurate / len(contacts), 1) if contacts else None
    return {
        "customers": customers,
        "complete_customers": sum(1 for q in qualities if not q.missing),
        "basic_completeness": basic,
        "basic_target": BASIC_TARGET,
        "basic_met": basic is not None and basic >= BASIC_TARGET,
        "contacts": len(contacts),
        "accurate_contacts": accurate,
        "contact_accuracy": accuracy,
        "accuracy_target": ACCURACY_TARGET,
        "accuracy_met": accuracy is not None and accuracy >= ACCURACY_TARGET,
        "gaps": {key: sum(1 for q in qualities if key in q.missing) for key in ITEMS},
    }


def worst(qualities: list[CustomerQuality], limit: int = 50) -> list[CustomerQuality]:
    """The customers with the most gaps (lowest score, then most inaccurate contacts), incomplete ones only."""
    gaps = [q for q in qualities if q.missing or q.inaccurate_contacts]
    gaps.sort(key=lambda q: (q.score, -len(q.inaccurate_contacts), q.customer_name, q.customer_id))
    return gaps[:limit]


# --- One-click fixes ---------------------------------------------------------------------------------------------
@transaction.atomic
def contact_mark(*, actor: User, contact: CustomerContact, field_name: str, status: str, request=None) -> bool:
    """Mark a contact's e-mail or mobile as bounced / wrong (or back to unchecked); audited on the customer."""
    if field_name not in {"email", "mobile"}:
        raise ValidationError({"field": [_("Choose e-mail or mobile.")]})
    if status not in ContactPointStatus.values:
        raise ValidationError({"status": [_("Choose a valid status.")]})
    if status == ContactPointStatus.BOUNCED and field_name != "email":
        raise ValidationError({"status": [_("Only an e-mail address can bounce.")]})
    column = f"{field_name}_status"
    old = getattr(contact, column)
    if old == status:
        return False
    CustomerContact.objects.filter(pk=contact.pk).update(**{column: status, "updated_at": timezone.now()})
    setattr(contact, column, status)
    audit_record(
        action="crm.data_quality.contact_marked",
        actor=actor,
        obj=contact.customer,
        changes={column: (old, status), "contact": (contact.contact_name, contact.contact_name)},
        request=request,
    )
    return True


def portfolio_owner(customer: Customer) -> User | None:
    """Who the customer belongs to when no manager is set: the active staff member of the tenant who created it."""
    if customer.created_by_id is None:
        return None
    return User.objects.filter(pk=customer.created_by_id, tenant_id=customer.tenant_id, is_active=True).first()


@transaction.atomic
def manager_fill(*, actor: User, customer: Customer, request=None) -> User:
    """Set a missing manager to the portfolio owner (through the customers service: permission checked, audited)."""
    if customer.assigned_manager_id:
        raise ValidationError({"assigned_manager_id": [_("This customer already has a manager.")]})
    owner = portfolio_owner(customer)
    if owner is None:
        raise ValidationError({"assigned_manager_id": [_("No portfolio owner is known: choose a manager.")]})
    customer_services.customer_update(actor=actor, customer=customer, data={"assigned_manager": owner}, request=request)
    audit_record(
        action="crm.data_quality.manager_set",
        actor=actor,
        obj=customer,
        changes={"assigned_manager": (None, owner.get_username())},
        request=request,
    )
    return owner


# --- Weekly reminder ---------------------------------------------------------------------------------------------
def reminders_send(*, today: date | None = None, limit: int = 10) -> dict[str, int]:
    """One notification (and e-mail) per manager listing their incomplete customers; once per ISO week."""
    today = today or timezone.localdate()
    year, week, _day = today.isocalendar()
    qualities = customers_quality(Customer.objects.alive().filter(assigned_manager__isnull=False))
    by_manager: dict[int, list[CustomerQuality]] = defaultdict(list)
    for quality in qualities:
        if quality.missing:
            by_manager[quality.assigned_manager_id].append(quality)
    counts = {"managers": len(by_manager), "sent": 0, "already_sent": 0}
    managers = User.objects.filter(pk__in=list(by_manager), is_active=True)
    for manager in managers:
        items = sorted(by_manager[manager.pk], key=lambda q: (q.score, q.customer_name))
        names = "; ".join(f"{q.customer_name} ({q.score:g}%)" for q in items[:limit])
        more = len(items) - limit
        message = _("%(n)d of your customers are incomplete: %(names)s") % {"n": len(items), "names": names}
        if more > 0:
            message += " " + _("and %(m)d more") % {"m": more}
        sent = notify(
            manager,
            "analytics.data_quality",
            None,
            message,
            dedup_key=f"analytics:quality:{manager.pk}:{year}-W{week:02d}",
            link=reverse("analytics:data_quality") + f"?manager={manager.pk}",
        )
        counts["sent" if sent is not None else "already_sent"] += 1
    return counts
