"""Every write on customers, contacts and tags, with its rules. Views, the API, import and jobs call these."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from accounts.models import User
from accounts.roles import CSM
from accounts.services import audit_record, code_next, diff_fields
from accounts.tenancy import current_tenant
from crm_project.audit import audit_entry, audit_record_many
from customers.cache import customers_changed
from customers.choices import CustomerStatus
from customers.models import Customer, CustomerContact, CustomerTag
from customers.signals import customer_merged, customer_status_changed

CUSTOMER_FIELDS = (
    "customer_name",
    "customer_type",
    "industry",
    "scale",
    "address",
    "website",
    "description",
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
TAG_FIELDS = ("tag_name", "tag_type", "tag_category", "tag_value", "confidence", "source")

_PUNCTUATION = re.compile(r"[\s\W_]+", re.UNICODE)

# PRD 5.2.1: the only ways a customer's status changes (old, new) -> when.
STATUS_TRANSITIONS = {
    (CustomerStatus.POTENTIAL, CustomerStatus.FORMAL): "a contract is signed",
    (CustomerStatus.FORMAL, CustomerStatus.LOST): "the contracts ended without renewal or were terminated",
    (CustomerStatus.LOST, CustomerStatus.FORMAL): "a contract is signed again",
}
# An administrator may also mark a customer as lost by hand, with a reason (Django admin action).
MANUAL_LOST_FROM = (CustomerStatus.POTENTIAL, CustomerStatus.FORMAL)
BULK_CHUNK = 1000


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


def set_derived_keys(customer: Customer) -> None:
    """Name key and website domain from the name and website (bulk writers call this too)."""
    customer.customer_name = (customer.customer_name or "").strip()
    customer.normalized_name = normalize_name(customer.customer_name)
    customer.name_key = customer.normalized_name if customer.deleted_at is None else None
    customer.website_domain = website_domain(customer.website)


def check_name(customer: Customer) -> None:
    """A name needs a letter or a digit: one made only of punctuation, emoji or invisible characters would
    normalise to nothing and collide with every other such name. Call after `set_derived_keys`."""
    if customer.customer_name and not customer.normalized_name:
        raise ValidationError({"customer_name": [name_without_letters_message()]})


def name_without_letters_message() -> str:
    return _("The customer name needs at least one letter or digit (not only punctuation, emoji or spaces).")


def check_one_primary(contacts: Iterable[dict[str, Any]], *, key: str = "contacts") -> None:
    """At most one of the given contacts is marked primary (the one home of this rule)."""
    if sum(1 for contact in contacts if contact.get("is_primary")) > 1:
        raise ValidationError({key: [_("Only one contact can be the primary contact.")]})


def primary_fields(is_primary: bool) -> dict[str, Any]:
    """The stored form of the primary flag (`primary_marker` makes "one primary per customer" a constraint)."""
    return {"is_primary": bool(is_primary), "primary_marker": 1 if is_primary else None}


def contacts_demote_primary(customer_ids: Iterable[int], *, keep: int | None = None) -> int:
    """The current primary contacts of these customers stop being primary (before a new one becomes primary)."""
    ids = list(customer_ids)
    demoted = 0
    for start in range(0, len(ids), BULK_CHUNK):
        queryset = CustomerContact.objects.filter(customer_id__in=ids[start : start + BULK_CHUNK], is_primary=True)
        if keep is not None:
            queryset = queryset.exclude(pk=keep)
        demoted += queryset.update(**primary_fields(False))
    return demoted


def _find_duplicate(customer: Customer) -> Customer | None:
    queryset = Customer.objects.alive().filter(normalized_name=customer.normalized_name)
    if customer.pk:
        queryset = queryset.exclude(pk=customer.pk)
    return queryset.first()


def _check_manager(manager: User | None, customer: Customer) -> None:
    if manager is not None and (manager.tenant_id != customer.tenant_id or not manager.is_active):
        raise ValidationError({"assigned_manager_id": [_("Choose an active user of your tenant.")]})


def _save_customer(customer: Customer) -> None:
    set_derived_keys(customer)
    check_name(customer)
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


def _refuse_status_write(data: dict[str, Any], current: int) -> None:
    """The status follows the contracts (PRD 5.2.1): a create or an edit may not set it."""
    if "status" in data and data["status"] is not None and int(data["status"]) != int(current):
        raise ValidationError({"status": [status_read_only_message()]})


def status_read_only_message() -> str:
    return _(
        "The status cannot be set directly: it follows the contracts (potential → formal when a contract is "
        "signed, formal → lost when they end without renewal)."
    )


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
    _refuse_status_write(data, CustomerStatus.POTENTIAL)
    contacts = list(contacts)
    check_one_primary(contacts)
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
    for index, contact_data in enumerate(contacts):
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
    """Change a customer's fields; reassigning the manager needs the assign permission and is audited.

    The status is not among them: it changes only through `customer_status_change` (PRD 5.2.1).
    """
    _refuse_status_write(data, customer.status)
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
    """Bulk action: give several customers to one manager; returns how many changed.

    The rules of `customer_update` for a manager change, checked once for the batch (the assign permission, an
    active manager of the customers' tenant); each row is one narrow UPDATE through `save(update_fields=...)`, so
    the post_save receivers (list cache, webhooks) still see every change; both audit entries of every customer go
    in one bulk INSERT. (Per-row `customer_update` re-validated every field, checked duplicates and opened four
    savepoints per customer: about 10 ms each, 10 s for 1,000.) Pass the customers with `assigned_manager` loaded.
    """
    moving = [customer for customer in customers if customer.assigned_manager_id != manager.pk]
    if not moving:
        return 0
    if not actor.has_perm("customers.assign_customer"):
        raise PermissionDenied(_("Only a lead or an administrator can reassign customers."))
    for customer in moving:
        _check_manager(manager, customer)
    entries = []
    for customer in moving:
        changes = {"assigned_manager": (customer.assigned_manager, manager)}
        customer.assigned_manager = manager
        customer.save(update_fields=["assigned_manager", "updated_at"])
        for action in ("crm.customer.updated", "crm.customer.reassigned"):
            entries.append(audit_entry(action=action, actor=actor, obj=customer, changes=changes, request=request))
    audit_record_many(entries)
    return len(moving)


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
    if contact.pk and "is_primary" not in data:
        # The stored flag, not a stale copy: another contact may have become primary (and demoted this one)
        # since `contact` was read, so callers may save contacts in any order.
        stored = CustomerContact.objects.filter(pk=contact.pk).values_list("is_primary", flat=True).first()
        if stored is not None:
            contact.is_primary = stored
    for key, value in data.items():
        if key in CONTACT_FIELDS:
            setattr(contact, key, value.strip() if isinstance(value, str) else value)
    contact.full_clean(exclude=["tenant", "customer", "primary_marker"])
    if contact.is_primary:
        # Making this one primary demotes the previous primary in the same transaction.
        contacts_demote_primary([contact.customer_id], keep=contact.pk)
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
    """Bulk action: put one tag on several customers; returns how many got it newly.

    Set-based (1,000 customers in well under a second): the tag is validated once (field rules and the tenant's
    spelling, `CustomerTag.clean`), customers that carry it already (in any case) are skipped with one query, the new
    rows are one bulk INSERT and their audit entries another. Per-row `tag_add` paid the tenant-wide spelling lookup
    for every customer (about 11 ms each at 100,000 customers on MariaDB).
    """
    customers = list(customers)
    name = (tag_name or "").strip()
    if not customers:
        return 0
    first = customers[0]
    model = CustomerTag(customer=first, created_by=actor, tag_name=name)
    # Field rules and the tenant's spelling; "already has it" is checked for every customer below instead.
    model.clean_fields(exclude=["tenant", "customer", "created_by"])
    with contextlib.suppress(ValidationError):  # the first customer has it already: skipped below like the others
        model.clean()
    name = model.tag_name
    ids = [customer.pk for customer in customers]
    carrying: set[int] = set()
    for start in range(0, len(ids), BULK_CHUNK):
        chunk = ids[start : start + BULK_CHUNK]
        carrying.update(
            CustomerTag.objects.filter(customer_id__in=chunk, tag_name__iexact=name).values_list(
                "customer_id", flat=True
            )
        )
    new = [customer for customer in customers if customer.pk not in carrying]
    if not new:
        return 0
    CustomerTag.objects.bulk_create(
        [CustomerTag(customer=customer, created_by=actor, tag_name=name) for customer in new],
        batch_size=BULK_CHUNK,
        ignore_conflicts=True,  # a concurrent add of the same tag wins; the unique key keeps one row
    )
    audit_record_many(
        audit_entry(action="crm.tag.added", actor=actor, obj=customer, changes={"tag": (None, name)}, request=request)
        for customer in new
    )
    return len(new)


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
    # Contact details are encrypted: equality goes through their blind indexes (normalised, keyed hashes).
    emails = [e for e in customer.contacts.values_list("email_bidx", flat=True) if e]
    phones = [p for row in customer.contacts.values_list("mobile_bidx", "phone_bidx") for p in row if p]
    contact_match = Q()
    if emails:
        contact_match |= Q(contacts__email_bidx__in=emails)
    if phones:
        contact_match |= Q(contacts__mobile_bidx__in=phones) | Q(contacts__phone_bidx__in=phones)
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
        contacts_demote_primary([duplicate.pk])
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


# --- Status and denormalised dates (PRD 5.2.1) ------------------------------------------------------------------------
def _allowed_from(new_status: int, *, manual: bool) -> set[int]:
    allowed = {old for old, new in STATUS_TRANSITIONS if new == new_status}
    if manual and new_status == CustomerStatus.LOST:
        allowed |= set(MANUAL_LOST_FROM)
    return allowed


def _status_changed(
    customers: list[Customer], old_status: dict[int, int], new_status: int, reason: str, actor, request
):
    audit_record_many(
        audit_entry(
            action="crm.customer.status_changed",
            actor=actor,
            obj=customer,
            request=request,
            changes={"status": (old_status[customer.pk], new_status), "reason": (None, reason)},
        )
        for customer in customers
    )
    for customer in customers:
        customer_status_changed.send(
            sender=Customer,
            customer=customer,
            old=old_status[customer.pk],
            new=new_status,
            reason=reason,
            actor=actor,
        )


@transaction.atomic
def customer_status_change(
    *, customer: Customer, new_status: int, reason: str, actor: User | None = None, request=None, manual: bool = False
) -> bool:
    """Move a customer along the PRD 5.2.1 lifecycle; returns False when it already has that status.

    Potential → formal and lost → formal when a contract is signed, formal → lost when the contracts lapse
    (contracts calls this). `manual=True` is the administrator's "mark as lost" (from potential or formal).
    Anything else raises ValidationError naming `status`. Audited as `crm.customer.status_changed` with the
    reason; `customers.signals.customer_status_changed` is sent inside the transaction.
    """
    new_status = CustomerStatus(int(new_status))
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Give a reason for the status change.")]})
    stored = Customer.objects.select_for_update().filter(pk=customer.pk).values_list("status", flat=True).first()
    if stored is None:
        raise ValidationError({"customer": [_("The customer no longer exists.")]})
    if stored == new_status:
        customer.status = new_status
        return False
    if stored not in _allowed_from(new_status, manual=manual):
        raise ValidationError(
            {
                "status": [
                    _("A %(old)s customer cannot become %(new)s.")
                    % {"old": CustomerStatus(stored).label, "new": new_status.label}
                ]
            }
        )
    Customer.objects.filter(pk=customer.pk).update(status=new_status, updated_at=timezone.now())
    customer.status = new_status
    _status_changed([customer], {customer.pk: stored}, new_status, reason.strip(), actor, request)
    return True


@transaction.atomic
def customers_status_change_bulk(
    *, customers: QuerySet[Customer], new_status: int, reason: str, actor: User | None = None, request=None
) -> int:
    """Set-based `customer_status_change` for jobs: the customers of the queryset whose status may move to
    `new_status` (PRD 5.2.1) move, the others are left alone. One UPDATE and one audit INSERT per chunk."""
    new_status = CustomerStatus(int(new_status))
    rows = list(
        customers.filter(status__in=_allowed_from(new_status, manual=False))
        .select_for_update()
        .only("pk", "status", "customer_code", "customer_name", "tenant_id")
    )
    if not rows:
        return 0
    old_status = {customer.pk: customer.status for customer in rows}
    now = timezone.now()
    for start in range(0, len(rows), BULK_CHUNK):
        chunk = [customer.pk for customer in rows[start : start + BULK_CHUNK]]
        Customer.objects.filter(pk__in=chunk).update(status=new_status, updated_at=now)
    for customer in rows:
        customer.status = new_status
    _status_changed(rows, old_status, new_status, reason, actor, request)
    return len(rows)


def customer_renewal_date_set(*, customer: Customer, next_renewal_date: date | None) -> None:
    """The denormalised next renewal date (the earliest end of an active contract; contracts computes it)."""
    if (
        Customer.objects.filter(pk=customer.pk)
        .exclude(next_renewal_date=next_renewal_date)
        .update(next_renewal_date=next_renewal_date)
    ):
        customers_changed(customer.tenant_id)
    customer.next_renewal_date = next_renewal_date


def customer_last_contact_touch(*, customer_id: int, contact_id: int | None, when: datetime) -> None:
    """Move the last-contact date of a customer (and of the contact) forward to `when`, never back."""
    stale = Q(last_contact_date__isnull=True) | Q(last_contact_date__lt=when)
    changed = Customer.objects.filter(pk=customer_id).filter(stale).update(last_contact_date=when)
    if contact_id:
        changed += (
            CustomerContact.objects.filter(pk=contact_id, customer_id=customer_id)
            .filter(stale)
            .update(last_contact_date=when)
        )
    if changed:
        customers_changed(current_tenant().pk)


def customers_figures_set(*, field: str, values: dict[int, Any], chunk: int = 1000) -> int:
    """Denormalised figures computed by a higher app (`health_score` by health, `ltv` from contract revenue):
    one UPDATE ... CASE per chunk of ids, no model signals, no audit (they are derived, not edited).

    The CASE is one SQL fragment with parameters (values prepared by the field, so a converting field keeps its
    storage format): Django's `Case(When(pk=...))` resolved ~1 ms of Python per customer, 100 s at 100,000."""
    from django.db import connection
    from django.db.models.expressions import RawSQL

    if field not in {"health_score", "ltv"}:
        raise ValueError(f"{field} is not a denormalised figure")
    output = Customer._meta.get_field(field)
    pk_column = connection.ops.quote_name(Customer._meta.pk.column)
    # Two parameters a customer in the CASE plus its id in the IN list; SQLite may allow only 999.
    chunk = max(1, min(chunk, (connection.features.max_query_params or 3 * chunk) // 3 - 2))
    items = list(values.items())
    updated = 0
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        params: list[Any] = []
        for pk, value in part:
            params += [pk, output.get_db_prep_save(value, connection)]
        case = RawSQL(f"CASE {pk_column} {' '.join(['WHEN %s THEN %s'] * len(part))} END", params, output_field=output)
        updated += Customer.objects.filter(pk__in=[pk for pk, _v in part]).update(**{field: case})
    if updated:
        customers_changed(current_tenant().pk)  # the list pages show these figures: never serve them stale
    return updated


RECOMPUTABLE_FIGURES = {"health_score", "ltv", "last_contact_date", "next_renewal_date"}


def customers_figure_recompute(*, field: str, source, only_with_source=None) -> int:
    """Set-based refresh of one denormalised figure of every alive customer of the active tenant after a bulk load
    (the volume generator): one UPDATE ... SET field = (correlated subquery) instead of a value per customer.
    `source` is an expression correlated on the customer's pk (Subquery(...OuterRef("pk")...)); with
    `only_with_source` (an Exists) customers without a source row keep their figure."""
    if field not in RECOMPUTABLE_FIGURES:
        raise ValueError(f"{field} is not a denormalised figure")
    rows = Customer.objects.alive()
    if only_with_source is not None:
        rows = rows.filter(only_with_source)
    updated = rows.update(**{field: source})  # the change-tracking queryset invalidates the list cache
    return updated
