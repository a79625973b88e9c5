"""Step 2 (the preview): check every row, group rows into customers, resolve them against the database."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.tenancy import current_tenant
from customers.importing.base import (
    _CHOICE_FIELDS,
    _CONTACT_TEXT_FIELDS,
    _EXTRA_CHOICE_LABELS,
    _FALSE,
    _PLAIN_CUSTOMER_FIELDS,
    _TRUE,
    ACTION_DUPLICATE,
    ACTION_NEW,
    ACTION_UPDATE,
    CONTACT_COLUMNS,
    _chunks,
)
from customers.models import Customer, CustomerContact
from customers.selectors import customers_visible_to, sees_all_customers
from customers.services import (
    check_one_primary,
    name_without_letters_message,
    normalize_name,
    status_read_only_message,
)
from customers.validators import validate_tag_name


# --- Validation ------------------------------------------------------------------------------------------------------
@dataclass
class RowResult:
    row: int
    values: dict[str, str]
    errors: list[list[str]] = field(default_factory=list)  # [column, message]
    group: int = 0  # row number of the first row of the same customer
    customer: dict[str, Any] = field(default_factory=dict)  # cleaned customer values (non-empty only)
    contact: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)

    def error(self, column: str, message: str) -> None:
        self.errors.append([column, str(message)])


@dataclass
class GroupPlan:
    """One customer of the file (one or several rows)."""

    row: int
    key: str
    rows: list[int] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    value_rows: dict[str, int] = field(default_factory=dict)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    action: str = ACTION_NEW
    target_id: int | None = None
    target_code: str = ""
    target_name: str = ""
    merge_allowed: bool = True


@dataclass
class ImportPlan:
    rows: list[RowResult]
    groups: list[GroupPlan]

    @property
    def error_rows(self) -> list[RowResult]:
        return [row for row in self.rows if row.errors]

    @property
    def has_errors(self) -> bool:
        return any(row.errors for row in self.rows)

    def counts(self) -> dict[str, int]:
        """Customers by action (groups with an error row left out), error rows, rows and contacts."""
        errored = {row.row for row in self.rows if row.errors}
        clean = [g for g in self.groups if not errored.intersection(g.rows)]
        return {
            "rows": len(self.rows),
            "new": sum(1 for g in clean if g.action == ACTION_NEW),
            "update": sum(1 for g in clean if g.action == ACTION_UPDATE),
            "duplicate": sum(1 for g in clean if g.action == ACTION_DUPLICATE),
            "error_rows": len(self.error_rows),
            "contacts": sum(len(g.contacts) for g in self.groups),
        }

    def duplicate_rows(self) -> set[int]:
        return {g.row for g in self.groups if g.action == ACTION_DUPLICATE}


_choice_cache: dict[str, dict[str, int]] = {}


def _choice_lookup(column: str) -> dict[str, int]:
    """Accepted spellings of a choice: the number, the English and Chinese labels, the member name."""
    if column in _choice_cache:
        return _choice_cache[column]
    choices = _CHOICE_FIELDS[column]
    lookup: dict[str, int] = {}
    for member in choices:
        lookup[str(int(member))] = int(member)
        lookup[member.name.casefold()] = int(member)
        for lang in ("en", "zh-hans"):
            with translation.override(lang):
                lookup[str(member.label).strip().casefold()] = int(member)
    lookup.update(_EXTRA_CHOICE_LABELS.get(column, {}))
    _choice_cache[column] = lookup
    return lookup


_FIELD_CACHE: dict[tuple[type, str], Any] = {}


def _model_field(model, name):
    key = (model, name)
    if key not in _FIELD_CACHE:
        _FIELD_CACHE[key] = model._meta.get_field(name)
    return _FIELD_CACHE[key]


def _check_field(result: RowResult, model, name: str, value: Any) -> Any:
    """Run the model field's own checks (length, validators); record the first error on the row."""
    try:
        return _model_field(model, name).clean(value, None)
    except ValidationError as exc:
        result.error(name, exc.messages[0])
        return None


def _clean_row(result: RowResult) -> None:
    """Per-row checks that need no database: formats, lengths, choices, contact, tags."""
    values = result.values
    code = values.get("customer_code", "")
    name = values.get("customer_name", "")
    if code:
        result.customer["customer_code"] = code
    if name:
        cleaned = _check_field(result, Customer, "customer_name", name)
        if cleaned and not normalize_name(cleaned):
            result.error("customer_name", name_without_letters_message())
        elif cleaned:
            result.customer["customer_name"] = cleaned
    elif not code:
        result.error("customer_name", _("A customer name (or an existing customer code) is required."))
    for column in _PLAIN_CUSTOMER_FIELDS:
        text = values.get(column, "")
        if text:
            cleaned = _check_field(result, Customer, column, text)
            if cleaned is not None:
                result.customer[column] = cleaned
    for column in _CHOICE_FIELDS:
        text = values.get(column, "")
        if not text:
            continue
        number = _choice_lookup(column).get(text.strip().casefold())
        if number is None:
            labels = ", ".join(f"{int(m)} = {m.label}" for m in _CHOICE_FIELDS[column])
            result.error(
                column, _("'%(value)s' is not a valid choice (%(choices)s).") % {"value": text, "choices": labels}
            )
        else:
            result.customer[column] = number
    manager = values.get("assigned_manager", "")
    if manager:
        result.customer["assigned_manager"] = manager
    tags_text = values.get("tags", "")
    if tags_text:
        seen = set()
        for tag in re.split(r"[;；]", tags_text):
            tag = tag.strip()
            if not tag or tag.casefold() in seen:
                continue
            seen.add(tag.casefold())
            try:
                validate_tag_name(tag)
                if len(tag) > 100:
                    raise ValidationError(_("A tag name can have at most 100 characters."))
            except ValidationError as exc:
                result.error("tags", f"{tag}: {exc.messages[0]}")
                continue
            result.tags.append(tag)

    contact_values = {column: values.get(column, "") for column in CONTACT_COLUMNS}
    if not any(contact_values.values()):
        return
    contact: dict[str, Any] = {}
    if not contact_values["contact_name"]:
        result.error("contact_name", _("A contact name is required when other contact columns are filled."))
    for column in _CONTACT_TEXT_FIELDS:
        text = contact_values[column]
        if text:
            cleaned = _check_field(result, CustomerContact, column, text)
            if cleaned is not None:
                contact[column] = cleaned
    flag = contact_values["is_primary"].strip().casefold()
    if flag in _TRUE:
        contact["is_primary"] = True
    elif flag in _FALSE:
        contact["is_primary"] = False
    else:
        result.error("is_primary", _("Use 1 (primary contact) or 0."))
    result.contact = contact


def validate_rows(rows: Iterable[dict[str, Any]], *, user: User) -> ImportPlan:
    """Check every row and decide, per customer of the file, whether it is new, an update or a possible duplicate.

    Reads the database in a few set-based queries (never one per row). Must run inside the tenant scope.
    """
    tenant = current_tenant()
    if tenant is None:
        raise RuntimeError("validate_rows needs an active tenant scope")
    results = [RowResult(row=int(raw["row"]), values=dict(raw["values"])) for raw in rows]
    for result in results:
        _clean_row(result)

    # Group the rows into customers: by code, else by normalised name.
    groups: dict[str, GroupPlan] = {}
    group_by_name: dict[str, GroupPlan] = {}
    for result in results:
        customer = result.customer
        code = customer.get("customer_code", "")
        norm = normalize_name(customer.get("customer_name", ""))
        if not code and not norm:
            if "customer_name" in customer:
                result.error("customer_name", _("The customer name has no letters or digits."))
            continue
        if code:
            group = groups.get(f"code:{code}")
            named = group_by_name.get(norm) if norm else None
            if named is not None and named is not group:
                result.error(
                    "customer_name",
                    _("Row %(row)d has the same customer name under a different customer code.") % {"row": named.row},
                )
                continue
            if group is None:
                group = groups[f"code:{code}"] = GroupPlan(row=result.row, key=f"code:{code}")
        else:
            group = group_by_name.get(norm)
            if group is None:
                group = groups[f"name:{norm}"] = GroupPlan(row=result.row, key=f"name:{norm}")
        if norm:
            group_by_name.setdefault(norm, group)
        _add_row_to_group(group, result)

    group_list = list(groups.values())
    _resolve_against_database(group_list, results, user=user, tenant=tenant)
    return ImportPlan(rows=results, groups=group_list)


def _add_row_to_group(group: GroupPlan, result: RowResult) -> None:
    result.group = group.row
    repeated = bool(group.rows)
    group.rows.append(result.row)
    for column, value in result.customer.items():
        if column not in group.values:
            group.values[column] = value
            group.value_rows[column] = result.row
        elif column == "customer_name":
            if normalize_name(value) != normalize_name(group.values[column]):
                result.error(column, _("Differs from row %(row)d of the same customer.") % {"row": group.row})
        elif group.values[column] != value:
            result.error(
                column,
                _("Differs from row %(row)d of the same customer.") % {"row": group.value_rows[column]},
            )
    for tag in result.tags:
        if tag.casefold() not in {t.casefold() for t in group.tags}:
            group.tags.append(tag)
    contact = result.contact
    if contact is None:
        if repeated:
            result.error(
                "customer_name",
                _("Duplicate of row %(row)d: the same customer again without a new contact.") % {"row": group.row},
            )
        return
    name_key = (contact.get("contact_name") or "").casefold()
    for other in group.contacts:
        if (other.get("contact_name") or "").casefold() == name_key and (
            other.get("mobile", ""),
            other.get("email", ""),
        ) == (contact.get("mobile", ""), contact.get("email", "")):
            result.error("contact_name", _("Same contact as row %(row)d.") % {"row": other["row"]})
            return
    try:
        check_one_primary([*group.contacts, contact])
    except ValidationError:
        first = next(other["row"] for other in group.contacts if other.get("is_primary"))
        result.error("is_primary", _("Row %(row)d is already the primary contact of this customer.") % {"row": first})
        return
    group.contacts.append({**contact, "row": result.row})


def _resolve_against_database(groups: list[GroupPlan], results: list[RowResult], *, user: User, tenant) -> None:
    by_row = {result.row: result for result in results}
    codes = sorted({g.values["customer_code"] for g in groups if "customer_code" in g.values})
    names = sorted({normalize_name(g.values["customer_name"]) for g in groups if "customer_name" in g.values})
    existing_by_code: dict[str, tuple[int, str, str]] = {}
    existing_by_name: dict[str, tuple[int, str, str]] = {}
    stored_status: dict[int, int] = {}
    live = Customer.objects.alive()
    for chunk in _chunks(codes):
        for pk, code, name, status in live.filter(customer_code__in=chunk).values_list(
            "pk", "customer_code", "customer_name", "status"
        ):
            existing_by_code[code] = (pk, code, name)
            stored_status[pk] = status
    for chunk in _chunks(names):
        for pk, code, name, norm in live.filter(normalized_name__in=chunk).values_list(
            "pk", "customer_code", "customer_name", "normalized_name"
        ):
            existing_by_name[norm] = (pk, code, name)
    # Normalised names of the customers a code points at (a rename may collide with another row or customer).
    matched_ids = {v[0] for v in existing_by_code.values()} | {v[0] for v in existing_by_name.values()}
    if sees_all_customers(user):
        visible_ids = matched_ids
    else:
        visible_ids = set()
        for chunk in _chunks(sorted(matched_ids)):
            visible_ids.update(customers_visible_to(user).filter(pk__in=chunk).values_list("pk", flat=True))
    usernames = sorted({g.values["assigned_manager"] for g in groups if "assigned_manager" in g.values})
    managers: dict[str, int] = {}
    for chunk in _chunks(usernames):
        managers.update(
            User.objects.filter(tenant=tenant, is_active=True, username__in=chunk).values_list("username", "pk")
        )

    claimed_targets: dict[int, int] = {}  # customer id → first row of the group that writes it
    final_names: dict[str, int] = {}  # normalised name after the import → first row of its group
    for group in groups:
        first = by_row[group.row]
        code = group.values.get("customer_code")
        norm = normalize_name(group.values.get("customer_name", ""))
        if code:
            found = existing_by_code.get(code)
            if found is None or found[0] not in visible_ids:
                first.error("customer_code", _("No customer with this code exists that you can see."))
                continue
            group.action, group.target_id = ACTION_UPDATE, found[0]
            group.target_code, group.target_name = found[1], found[2]
            status = group.values.get("status")
            if status is not None and status != stored_status.get(found[0]):
                # The status follows the contracts (PRD 5.2.1); an import sets it only for new customers.
                by_row[group.value_rows.get("status", group.row)].error("status", status_read_only_message())
            other = existing_by_name.get(norm) if norm else None
            if other is not None and other[0] != found[0]:
                if other[0] in visible_ids:
                    message = _("Another customer already has this name (%(code)s).") % {"code": other[1]}
                else:
                    message = _("Another customer already has this name.")
                first.error("customer_name", message)
            final_norm = norm or normalize_name(found[2])
        else:
            other = existing_by_name.get(norm)
            if other is None:
                group.action = ACTION_NEW
            else:
                group.action, group.target_id = ACTION_DUPLICATE, other[0]
                group.target_code, group.target_name = other[1], other[2]
                group.merge_allowed = other[0] in visible_ids
            final_norm = norm
        if group.target_id is not None:
            if group.target_id in claimed_targets:
                first.error(
                    "customer_code" if code else "customer_name",
                    _("Row %(row)d already imports into this customer.") % {"row": claimed_targets[group.target_id]},
                )
            claimed_targets.setdefault(group.target_id, group.row)
        if final_norm in final_names and final_names[final_norm] != group.row:
            first.error(
                "customer_name", _("Row %(row)d has the same customer name.") % {"row": final_names[final_norm]}
            )
        final_names.setdefault(final_norm, group.row)
        manager = group.values.get("assigned_manager")
        if manager is not None:
            if manager in managers:
                group.values["assigned_manager_id"] = managers[manager]
            else:
                by_row[group.value_rows["assigned_manager"]].error(
                    "assigned_manager", _("No active user with this username in your tenant.")
                )
