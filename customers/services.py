"""Every write on customers, contacts and tags, with its rules. Views, the API, import and jobs call these."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from accounts.models import User
from accounts.roles import CSM
from accounts.services import audit_record, code_next, diff_fields
from customers.models import Customer, CustomerContact, CustomerTag
from customers.signals import customer_merged

CUSTOMER_FIELDS = (
    "customer_name",
    "customer_type",
    "industry",
    "scale",
    "address",
    "website",
    "description",
    "status",
    "level",
    "source",
    "region",
    "assigned_manager",
)
CONTACT_FIELDS = (
    "contact_name",
    "position",
    "department",
    "phone",
    "mobile",
    "email",
    "wechat",
    "is_primary",
    "is_decision_maker",
    "influence_level",
    "last_contact_date",
    "contact_preference",
)
TAG_FIELDS = ("tag_name", "tag_type", "tag_category", "tag_value", "confidence")

_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)


class CustomerDuplicate(Exception):
    """A live customer with the same normalised name exists in the tenant."""

    def __init__(self, existing: Customer):
        super().__init__(existing.customer_name)
        self.existing = existing


def normalize_name(name: str) -> str:
    """Name key for duplicates: NFKC (full-width → half-width), case-folded, without spaces or punctuation."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    return _PUNCTUATION.sub("", text)[:200]


def website_domain(url: str) -> str:
    """`https://www.ABC-tech.com/about` → `abc-tech.com`."""
    if not url:
        return ""
    parsed = urlparse(url if "://" in url else f"http://{url}")
    host = (parsed.hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _set_derived_keys(customer: Customer) -> None:
    customer.customer_name = (customer.customer_name or "").strip()
    customer.normalized_name = normalize_name(customer.customer_name)
    customer.name_key = customer.normalized_name if customer.deleted_at is None else None
    customer.website_domain = website_domain(customer.website)


def _find_duplicate(customer: Customer) -> Customer | None:
    queryset = Customer.objects.alive().filter(normalized_name=customer.normalized_name)
    if customer.pk:
        queryset = queryset.exclude(pk=customer.pk)
    return queryset.first()


def _check_manager(manager: User | None, customer: Customer) -> None:
    if manager is not None and (manager.tenant_id != customer.tenant_id or not manager.is_active):
        raise ValidationError({"assigned_manager_id": [_("Choose an active user of your tenant.")]})


def _save_customer(customer: Customer) -> None:
    _set_derived_keys(customer)
    customer.full_clean(exclude=["tenant", "name_key", "normalized_name", "customer_code"])
    duplicate = _find_duplicate(customer)
    if duplicate is not None:
        raise CustomerDuplicate(duplicate)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        # A concurrent create with the same name won the race: report it like any duplicate.
        duplicate = _find_duplicate(customer)
        if duplicate is None:
            raise
        raise CustomerDuplicate(duplicate) from None


@transaction.atomic
def customer_create(
    *,
    actor: User,
    data: dict[str, Any],
    contacts: Iterable[dict[str, Any]] = (),
    tags: Iterable[str] = (),
    request=None,
) -> Customer:
    """Create a customer with its contacts (and tags); the code is generated, the tenant comes from the scope."""
    values = {key: value for key, value in data.items() if key in CUSTOMER_FIELDS}
    manager = values.get("assigned_manager")
    if actor.role == CSM and not actor.is_superuser:
        # A CSM creates customers for themselves; assigning to others is a lead's action.
        if manager is not None and manager != actor:
            raise PermissionDenied(_("Only a lead or an administrator can assign customers to others."))
        values["assigned_manager"] = actor
    customer = Customer(**values, created_by=actor)
    customer.fill_tenant_from_scope()
    _check_manager(customer.assigned_manager, customer)
    customer.customer_code = code_next("CUST")
    _save_customer(customer)
    contact_list = list(contacts)
    if sum(1 for c in contact_list if c.get("is_primary")) > 1:
        raise ValidationError({"contacts": [_("Only one contact can be the primary contact.")]})
    for index, contact_data in enumerate(contact_list):
        try:
            _contact_save(CustomerContact(customer=customer), contact_data)
        except ValidationError as exc:
            raise ValidationError({f"contacts[{index}].{key}": msgs for key, msgs in exc.message_dict.items()}) from exc
    for tag_name in tags:
        tag_add(actor=actor, customer=customer, data={"tag_name": tag_name}, audit=False)
    audit_record(
        action="crm.customer.created",
        actor=actor,
        obj=customer,
        request=request,
        changes={"customer_code": (None, customer.customer_code), "customer_name": (None, customer.customer_name)},
    )
    return customer


@transaction.atomic
def customer_update(*, actor: User, customer: Customer, data: dict[str, Any], request=None) -> Customer:
    """Change a customer's fields; reassigning the manager needs the assign permission and is audited."""
    values = {key: value for key, value in data.items() if key in CUSTOMER_FIELDS}
    if "assigned_manager" in values and values["assigned_manager"] != customer.assigned_manager:
        if not actor.has_perm("customers.assign_customer"):
            raise PermissionDenied(_("Only a lead or an administrator can reassign customers."))
        _check_manager(values["assigned_manager"], customer)
    changes = diff_fields(customer, values)
    if not changes:
        return customer
    for key, value in values.items():
        setattr(customer, key, value)
    _save_customer(customer)
    audit_record(action="crm.customer.updated", actor=actor, obj=customer, changes=changes, request=request)
    if "assigned_manager" in changes:
        audit_record(
            action="crm.customer.reassigned",
            actor=actor,
            obj=customer,
            changes={"assigned_manager": changes["assigned_manager"]},
            request=request,
        )
    return customer


@transaction.atomic
def customer_reassign(*, actor: User, customers: Iterable[Customer], manager: User, request=None) -> int:
    """Bulk action: give several customers to one manager; returns how many changed."""
    changed = 0
    for customer in customers:
        if customer.assigned_manager_id != manager.pk:
            customer_update(actor=actor, customer=customer, data={"assigned_manager": manager}, request=request)
            changed += 1
    return changed


@transaction.atomic
def customer_delete(*, actor: User, customer: Customer, request=None) -> None:
    """Soft delete: the row stays (and its audit trail) but vanishes from every list, API and export."""
    if not actor.has_perm("customers.delete_customer"):
        raise PermissionDenied(_("You may not delete customers."))
    customer.deleted_at = timezone.now()
    customer.name_key = None
    customer.save(update_fields=["deleted_at", "name_key", "updated_at"])
    audit_record(action="crm.customer.deleted", actor=actor, obj=customer, request=request)


def customer_share(*, actor: User, customer: Customer, user: User, request=None) -> None:
    """Let a CSM see a customer they do not manage (a lead's or admin's action)."""
    if not actor.has_perm("customers.assign_customer"):
        raise PermissionDenied(_("Only a lead or an administrator can share customers."))
    if user.tenant_id != customer.tenant_id:
        raise ValidationError({"user_id": [_("Choose a user of your tenant.")]})
    assign_perm("customers.view_customer", user, customer)
    audit_record(
        action="crm.customer.shared",
        actor=actor,
        obj=customer,
        changes={"shared_with": (None, user.pk)},
        request=request,
    )


def customer_unshare(*, actor: User, customer: Customer, user: User, request=None) -> None:
    if not actor.has_perm("customers.assign_customer"):
        raise PermissionDenied(_("Only a lead or an administrator can share customers."))
    remove_perm("customers.view_customer", user, customer)
    audit_record(
        action="crm.customer.unshared",
        actor=actor,
        obj=customer,
        changes={"shared_with": (user.pk, None)},
        request=request,
    )


# --- Contacts -------------------------------------------------------------------------------------------------------
def _contact_save(contact: CustomerContact, data: dict[str, Any]) -> CustomerContact:
    for key, value in data.items():
        if key in CONTACT_FIELDS:
            setattr(contact, key, value.strip() if isinstance(value, str) else value)
    contact.full_clean(exclude=["tenant", "customer", "primary_marker"])
    if contact.is_primary:
        # Making this one primary demotes the previous primary in the same transaction.
        others = CustomerContact.objects.filter(customer_id=contact.customer_id, is_primary=True)
        if contact.pk:
            others = others.exclude(pk=contact.pk)
        others.update(is_primary=False, primary_marker=None)
    contact.save()
    return contact


@transaction.atomic
def contact_create(*, actor: User, customer: Customer, data: dict[str, Any], request=None) -> CustomerContact:
    contact = _contact_save(CustomerContact(customer=customer), data)
    # Contact changes are filed under their customer, so they show on the customer's timeline.
    audit_record(
        action="crm.contact.created",
        actor=actor,
        obj=customer,
        request=request,
        changes={"contact": (None, contact.contact_name)},
    )
    return contact


@transaction.atomic
def contact_update(*, actor: User, contact: CustomerContact, data: dict[str, Any], request=None) -> CustomerContact:
    changes = diff_fields(contact, {k: v for k, v in data.items() if k in CONTACT_FIELDS})
    _contact_save(contact, data)
    if changes:
        changes["contact"] = (contact.contact_name, contact.contact_name)
        audit_record(action="crm.contact.updated", actor=actor, obj=contact.customer, changes=changes, request=request)
    return contact


@transaction.atomic
def contact_delete(*, actor: User, contact: CustomerContact, request=None) -> None:
    audit_record(
        action="crm.contact.deleted",
        actor=actor,
        obj=contact.customer,
        request=request,
        changes={field: (getattr(contact, field), None) for field in ("contact_name", "mobile", "email")},
    )
    contact.delete()


# --- Tags -----------------------------------------------------------------------------------------------------------
@transaction.atomic
def tag_add(*, actor: User, customer: Customer, data: dict[str, Any], audit: bool = True, request=None) -> CustomerTag:
    """Add a tag (or return the existing one of that name on this customer)."""
    name = (data.get("tag_name") or "").strip()
    existing = CustomerTag.objects.filter(customer=customer, tag_name=name).first()
    if existing is not None:
        return existing
    tag = CustomerTag(customer=customer, created_by=actor)
    for key in TAG_FIELDS:
        if key in data:
            setattr(tag, key, data[key].strip() if isinstance(data[key], str) else data[key])
    tag.tag_name = name
    tag.full_clean(exclude=["tenant", "customer", "created_by"])
    tag.save()
    if audit:
        audit_record(action="crm.tag.added", actor=actor, obj=customer, changes={"tag": (None, name)}, request=request)
    return tag


@transaction.atomic
def tag_update(*, actor: User, tag: CustomerTag, data: dict[str, Any], request=None) -> CustomerTag:
    values = {key: value for key, value in data.items() if key in TAG_FIELDS}
    changes = diff_fields(tag, values)
    for key, value in values.items():
        setattr(tag, key, value.strip() if isinstance(value, str) else value)
    tag.full_clean(exclude=["tenant", "customer", "created_by"])
    try:
        with transaction.atomic():
            tag.save()
    except IntegrityError:
        raise ValidationError({"tag_name": [_("This customer already has that tag.")]}) from None
    if changes:
        audit_record(action="crm.tag.updated", actor=actor, obj=tag.customer, changes=changes, request=request)
    return tag


@transaction.atomic
def tag_remove(*, actor: User, tag: CustomerTag, request=None) -> None:
    audit_record(
        action="crm.tag.removed", actor=actor, obj=tag.customer, changes={"tag": (tag.tag_name, None)}, request=request
    )
    tag.delete()


@transaction.atomic
def tag_add_bulk(*, actor: User, customers: Iterable[Customer], tag_name: str, request=None) -> int:
    """Bulk action: put one tag on several customers; returns how many got it newly."""
    added = 0
    for customer in customers:
        before = CustomerTag.objects.filter(customer=customer, tag_name=tag_name.strip()).exists()
        tag_add(actor=actor, customer=customer, data={"tag_name": tag_name}, request=request)
        added += 0 if before else 1
    return added


# --- Duplicates and merge -------------------------------------------------------------------------------------------
@dataclass
class DuplicateCandidate:
    customer: Customer
    reasons: list[str] = field(default_factory=list)


def customer_duplicates(customer: Customer, *, visible: Any = None) -> list[DuplicateCandidate]:
    """Other live customers that look like the same company: same name key, website domain, contact e-mail/phone."""
    base = visible if visible is not None else Customer.objects.alive()
    base = base.exclude(pk=customer.pk)
    candidates: dict[int, DuplicateCandidate] = {}

    def add(queryset, reason):
        for other in queryset.select_related("assigned_manager")[:50]:
            candidates.setdefault(other.pk, DuplicateCandidate(other)).reasons.append(reason)

    add(base.filter(normalized_name=customer.normalized_name), _("same name"))
    if customer.website_domain:
        add(base.filter(website_domain=customer.website_domain), _("same website"))
    emails = [e for e in customer.contacts.values_list("email", flat=True) if e]
    phones = [p for row in customer.contacts.values_list("mobile", "phone") for p in row if p]
    contact_match = Q()
    if emails:
        contact_match |= Q(contacts__email__in=emails)
    if phones:
        contact_match |= Q(contacts__mobile__in=phones) | Q(contacts__phone__in=phones)
    if contact_match:
        add(base.filter(contact_match).distinct(), _("shared contact"))
    return sorted(candidates.values(), key=lambda c: (-len(c.reasons), c.customer.pk))


@transaction.atomic
def customer_merge(
    *, actor: User, survivor: Customer, duplicate: Customer, take_from_duplicate: Iterable[str] = (), request=None
) -> Customer:
    """Fold `duplicate` into `survivor`: chosen fields, contacts, tags and shares move; the duplicate is deleted."""
    if not actor.has_perm("customers.merge_customer"):
        raise PermissionDenied(_("Only a lead or an administrator can merge customers."))
    if survivor.pk == duplicate.pk:
        raise ValidationError({"duplicate": [_("A customer cannot be merged into itself.")]})
    # Lock both rows so a concurrent edit cannot interleave with the merge.
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])}
    if len(locked) != 2:
        raise ValidationError({"duplicate": [_("The customer no longer exists.")]})
    changes = {}
    for name in take_from_duplicate:
        if name in CUSTOMER_FIELDS:
            old, new = getattr(survivor, name), getattr(duplicate, name)
            if old != new:
                changes[name] = (old, new)
                setattr(survivor, name, new)
    # The duplicate leaves the name free before the survivor may take it.
    duplicate.deleted_at = timezone.now()
    duplicate.name_key = None
    duplicate.merged_into = survivor
    duplicate.save(update_fields=["deleted_at", "name_key", "merged_into", "updated_at"])
    if changes:
        _save_customer(survivor)
    survivor_has_primary = CustomerContact.objects.filter(customer=survivor, is_primary=True).exists()
    moved_contacts = CustomerContact.objects.filter(customer=duplicate)
    if survivor_has_primary:
        moved_contacts.filter(is_primary=True).update(is_primary=False, primary_marker=None)
    contacts_moved = moved_contacts.update(customer=survivor)
    existing_tags = set(CustomerTag.objects.filter(customer=survivor).values_list("tag_name", flat=True))
    CustomerTag.objects.filter(customer=duplicate, tag_name__in=existing_tags).delete()
    tags_moved = CustomerTag.objects.filter(customer=duplicate).update(customer=survivor)
    for share in duplicate.user_shares.select_related("user"):
        assign_perm("customers.view_customer", share.user, survivor)
    # Higher apps move their rows (contracts, tickets, ...) and report counts for the audit entry.
    moved_elsewhere: dict[str, int] = {}
    for _receiver, result in customer_merged.send(
        sender=Customer, survivor=survivor, duplicate=duplicate, actor=actor, request=request
    ):
        moved_elsewhere.update(result or {})
    audit_record(
        action="crm.customer.merged",
        actor=actor,
        obj=survivor,
        request=request,
        changes={
            **changes,
            "merged_customer": (duplicate.pk, None),
            "contacts_moved": (0, contacts_moved),
            "tags_moved": (0, tags_moved),
            **{f"{label}_moved": (0, count) for label, count in moved_elsewhere.items()},
        },
    )
    return survivor
