"""Step 3: write a checked plan in one transaction through the customers services' bulk helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AuditLog, User
from accounts.services import audit_record, code_next_many
from accounts.tenancy import current_tenant
from crm_project.audit import audit_entry, audit_record_many
from customers.importing.base import (
    _CHOICE_FIELDS,
    _CONTACT_TEXT_FIELDS,
    _PLAIN_CUSTOMER_FIELDS,
    ACTION_DUPLICATE,
    ACTION_NEW,
    ACTION_UPDATE,
    BATCH_SIZE,
    CHOICE_MERGE,
    CHOICE_SKIP,
    ImportBlocked,
    _chunks,
)
from customers.importing.validate import (
    GroupPlan,
    ImportPlan,
)
from customers.models import Customer, CustomerContact, CustomerTag
from customers.services import (
    contacts_demote_primary,
    primary_fields,
    set_derived_keys,
)


# --- Commit ----------------------------------------------------------------------------------------------------------
@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    merged: int = 0
    skipped: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    tags_added: int = 0
    customer_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "merged": self.merged,
            "skipped": self.skipped,
            "contacts_created": self.contacts_created,
            "contacts_updated": self.contacts_updated,
            "tags_added": self.tags_added,
        }


_CUSTOMER_VALUE_FIELDS = ("customer_name", *_PLAIN_CUSTOMER_FIELDS, *_CHOICE_FIELDS, "assigned_manager_id")


def _apply_customer_values(customer: Customer, values: dict[str, Any], *, keep_name: bool) -> set[str]:
    changed = set()
    for name in _CUSTOMER_VALUE_FIELDS:
        if name not in values or (keep_name and name == "customer_name"):
            continue
        if name == "status" and customer.pk:
            continue  # an existing customer's status follows its contracts (validation refused a change)
        if getattr(customer, name) != values[name]:
            setattr(customer, name, values[name])
            changed.add(name)
    set_derived_keys(customer)  # the services' derived keys (name key, website domain)
    return changed


def _audit_entry(*, user, action: str, customer: Customer, changes: dict, request):
    return audit_entry(action=action, actor=user, obj=customer, changes=changes, request=request)


def commit_plan(
    plan: ImportPlan,
    *,
    user: User,
    duplicate_choices: dict[int, str] | None = None,
    default_choice: str = CHOICE_SKIP,
    request=None,
    filename: str = "",
) -> ImportResult:
    """Write the plan in one transaction; possible duplicates follow `duplicate_choices` (group row → merge/skip).

    Raises ImportBlocked when the plan has errors, or when the database changed in a way that breaks it.
    """
    if plan.has_errors:
        raise ImportBlocked(_("The file still has errors; nothing was imported."))
    choices = duplicate_choices or {}
    tenant = current_tenant()
    result = ImportResult()
    try:
        with transaction.atomic():
            _commit(
                plan,
                user=user,
                tenant=tenant,
                choices=choices,
                default_choice=default_choice,
                result=result,
                request=request,
            )
            audit_record(
                action="crm.customer.imported",
                actor=user,
                object_type=Customer._meta.label_lower,
                object_repr=(filename or "")[:200],
                changes={
                    "rows": (None, len(plan.rows)),
                    **{name: (None, count) for name, count in result.as_dict().items()},
                },
                request=request,
            )
    except IntegrityError:
        raise ImportBlocked(
            _("Another change to the same customers happened meanwhile; nothing was imported. Upload the file again.")
        ) from None
    return result


def _commit(plan, *, user, tenant, choices, default_choice, result: ImportResult, request) -> None:
    now = timezone.now()
    new_groups: list[GroupPlan] = []
    update_groups: list[GroupPlan] = []
    for group in plan.groups:
        if group.action == ACTION_NEW:
            new_groups.append(group)
        elif group.action == ACTION_UPDATE:
            update_groups.append(group)
        elif group.merge_allowed and choices.get(group.row, default_choice) == CHOICE_MERGE:
            update_groups.append(group)
            result.merged += 1
        else:
            result.skipped += 1
    audit_entries: list[AuditLog] = []

    # New customers: codes reserved at once, one INSERT per batch.
    customer_of_group: dict[int, int] = {}
    if new_groups:
        codes = code_next_many("CUST", len(new_groups))
        new_customers = []
        for group, code in zip(new_groups, codes, strict=True):
            customer = Customer(customer_code=code, created_by=user, tenant=tenant)
            _apply_customer_values(customer, group.values, keep_name=False)
            new_customers.append(customer)
        Customer.objects.bulk_create(new_customers, batch_size=BATCH_SIZE)
        if any(customer.pk is None for customer in new_customers):  # databases without RETURNING
            ids = {}
            for chunk in _chunks(codes):
                ids.update(Customer.objects.filter(customer_code__in=chunk).values_list("customer_code", "pk"))
            for customer in new_customers:
                customer.pk = ids[customer.customer_code]
        for group, customer in zip(new_groups, new_customers, strict=True):
            customer_of_group[group.row] = customer.pk
            audit_entries.append(
                _audit_entry(
                    user=user,
                    action="crm.customer.created",
                    customer=customer,
                    changes={
                        "customer_code": (None, customer.customer_code),
                        "customer_name": (None, customer.customer_name),
                    },
                    request=request,
                )
            )
        result.created = len(new_customers)

    # Updates (by code, or a possible duplicate merged into the existing customer).
    if update_groups:
        targets: dict[int, Customer] = {}
        for chunk in _chunks([g.target_id for g in update_groups]):
            targets.update({c.pk: c for c in Customer.objects.alive().filter(pk__in=chunk)})
        changed_customers = []
        changed_fields: set[str] = set()
        for group in update_groups:
            customer = targets.get(group.target_id)
            if customer is None:
                raise IntegrityError("customer vanished")
            before = {name: getattr(customer, name) for name in _CUSTOMER_VALUE_FIELDS}
            changed = _apply_customer_values(customer, group.values, keep_name=group.action == ACTION_DUPLICATE)
            customer_of_group[group.row] = customer.pk
            if changed:
                customer.updated_at = now
                changed_fields |= changed
                changed_customers.append(customer)
                audit_entries.append(
                    _audit_entry(
                        user=user,
                        action="crm.customer.updated",
                        customer=customer,
                        changes={name: (before[name], getattr(customer, name)) for name in sorted(changed)},
                        request=request,
                    )
                )
        if changed_customers:
            fields = sorted(changed_fields | {"normalized_name", "name_key", "website_domain", "updated_at"})
            Customer.objects.bulk_update(changed_customers, fields, batch_size=BATCH_SIZE)
        result.updated = len(update_groups) - result.merged

    _commit_contacts_and_tags(
        plan.groups, customer_of_group, updated_ids={g.target_id for g in update_groups}, user=user, result=result
    )
    audit_record_many(audit_entries)
    result.customer_ids = list(customer_of_group.values())


def _commit_contacts_and_tags(groups, customer_of_group, *, updated_ids, user, result: ImportResult) -> None:
    existing_contacts: dict[tuple[int, str], CustomerContact] = {}
    has_primary: set[int] = set()
    existing_tags: set[tuple[int, str]] = set()
    updated = sorted(i for i in updated_ids if i is not None)
    for chunk in _chunks(updated):
        for contact in CustomerContact.objects.filter(customer_id__in=chunk).order_by("id"):
            existing_contacts.setdefault((contact.customer_id, contact.contact_name.casefold()), contact)
            if contact.is_primary:
                has_primary.add(contact.customer_id)
        existing_tags.update(
            (cid, name.casefold())
            for cid, name in CustomerTag.objects.filter(customer_id__in=chunk).values_list("customer_id", "tag_name")
        )

    new_contacts: list[CustomerContact] = []
    changed_contacts: list[CustomerContact] = []
    demote: set[int] = set()
    new_tags: list[CustomerTag] = []
    for group in groups:
        customer_id = customer_of_group.get(group.row)
        if customer_id is None:
            continue  # skipped duplicate
        imported_primary = any(c.get("is_primary") for c in group.contacts)
        if imported_primary and customer_id in has_primary:
            demote.add(customer_id)
        for index, data in enumerate(group.contacts):
            is_primary = bool(data.get("is_primary")) or (
                not imported_primary and index == 0 and customer_id not in has_primary
            )
            match = existing_contacts.get((customer_id, data["contact_name"].casefold()))
            if match is not None:
                for name in _CONTACT_TEXT_FIELDS:
                    if data.get(name):
                        setattr(match, name, data[name])
                if is_primary or customer_id in demote:
                    for name, value in primary_fields(is_primary).items():
                        setattr(match, name, value)
                changed_contacts.append(match)
                continue
            contact = CustomerContact(
                customer_id=customer_id,
                **primary_fields(is_primary),
                **{name: data.get(name, "") for name in _CONTACT_TEXT_FIELDS},
            )
            new_contacts.append(contact)
        for tag in group.tags:
            if (customer_id, tag.casefold()) not in existing_tags:
                existing_tags.add((customer_id, tag.casefold()))
                new_tags.append(CustomerTag(customer_id=customer_id, tag_name=tag, created_by=user))

    contacts_demote_primary(sorted(demote))
    if changed_contacts:
        now = timezone.now()
        for contact in changed_contacts:
            contact.updated_at = now
            if contact.customer_id in demote and not contact.is_primary:
                contact.primary_marker = None
        CustomerContact.objects.bulk_update(
            changed_contacts, [*_CONTACT_TEXT_FIELDS, "is_primary", "primary_marker", "updated_at"], batch_size=500
        )
    if new_contacts:
        CustomerContact.objects.bulk_create(new_contacts, batch_size=BATCH_SIZE)
    if new_tags:
        CustomerTag.objects.bulk_create(new_tags, batch_size=BATCH_SIZE)
    result.contacts_created = len(new_contacts)
    result.contacts_updated = len(changed_contacts)
    result.tags_added = len(new_tags)
