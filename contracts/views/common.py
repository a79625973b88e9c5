"""What the contracts pages share: permissions, lookups, service errors on forms, amounts, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError as SortError

from contracts import selectors
from contracts.choices import ContractStatus, ContractType, RenewalType
from contracts.masking import MASK, masked_amount
from contracts.models import Contract
from contracts.services import ContractStateError
from crm_project.api.sorting import parse_sort
from customers.exporting import neutralise

__all__ = ["MASK"]  # re-exported for the feature modules

VIEW = "contracts.view_contract"
ADD = "contracts.add_contract"
CHANGE = "contracts.change_contract"
SIGN = "contracts.sign_contract"
REQUEST_CHANGE = "contracts.add_changerequest"
APPROVE = "contracts.approve_changerequest"
AMOUNT = "contracts.view_contract_amount"
EXPORT = "contracts.export_contract"
# Invoices and payments: finance (and admins / leads), i.e. whoever may change contracts and see amounts.
INVOICE = (CHANGE, AMOUNT)
PAGE_SIZE = 25
PIPELINE_PAGE_SIZE = 50
SORT_FIELDS = {
    "code": "contract_code",
    "name": "contract_name",
    "customer": "customer__customer_name",
    "end_date": "end_date",
    "start_date": "start_date",
    "status": "status",
    "created_at": "created_at",
}
AMOUNT_SORT = {"amount": "contract_amount"}
DEFAULT_SORT = ["-created_at"]
RENEWAL_WINDOWS = (30, 60, 90, 180)
DEFAULT_WINDOW = 90
PIPELINE_SORT_FIELDS = {
    "customer": "customer__customer_name",
    "contract": "contract_code",
    "end_date": "end_date",
    "days_left": "end_date",
    "owner": "customer__assigned_manager__display_name",
    "last_contact": "customer__last_contact_date",
    "probability": None,  # computed per row, sorted in Python
}
PIPELINE_DEFAULT_SORT = ["end_date"]
STATUS_BADGES = {
    ContractStatus.DRAFT: "badge-muted",
    ContractStatus.ACTIVE: "badge-success",
    ContractStatus.EXPIRED: "badge-warning",
    ContractStatus.TERMINATED: "badge-danger",
}
_TERM_CHOICES = {"status": ContractStatus, "contract_type": ContractType, "renewal_type": RenewalType}


# What a service raises to refuse an action; shown to the user as an error message.
REFUSALS = (ContractStateError, ValidationError, PermissionDenied)


def _visible_or_404(user, pk, *, detail: bool = False) -> Contract:
    contract = selectors.contract_get_visible(user, pk, detail=detail)
    if contract is None:
        raise Http404(_("No such contract."))
    return contract


def _detail_url(contract: Contract, anchor: str = "") -> str:
    return reverse("contracts:contract_detail", args=[contract.pk]) + (f"#{anchor}" if anchor else "")


def _field_label(name: str) -> str:
    try:
        return str(capfirst(Contract._meta.get_field(name).verbose_name))
    except FieldDoesNotExist:
        return capfirst(name.replace("_", " "))


def apply_service_errors(exc: ValidationError, form, aliases: dict[str, str] | None = None) -> None:
    """Put a service ValidationError next to the fields it names; unknown keys become form-level errors."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for key, messages_ in exc.message_dict.items():
        field = (aliases or {}).get(key, key)
        if field == NON_FIELD_ERRORS:
            field = None
        if field is not None and field not in form.fields:
            messages_ = [f"{_field_label(key)}: {message}" for message in messages_]
            field = None
        for message in messages_:
            form.add_error(field, message)


def _wants_partial(request) -> bool:
    """An htmx swap (not htmx restoring a page from history, which needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _query_without(request, *keys: str):
    params = request.GET.copy()
    for key in keys:
        params.pop(key, None)
    return params


def _with_amounts(contracts: Iterable[Contract], user) -> list[Contract]:
    """Attach `amount_shown` (the amount, or *** without the permission) to every contract."""
    rows = list(contracts)
    for contract in rows:
        contract.amount_shown = masked_amount(contract, user)
    return rows


def _term_value(name: str, value: Any, see_amount: bool) -> Any:
    """A stored term (snapshot / change request) as shown to this user."""
    if value in (None, ""):
        return "—"
    if name == "contract_amount" and not see_amount:
        return MASK
    choices = _TERM_CHOICES.get(name)
    if choices is not None:
        try:
            return choices(int(value)).label
        except (TypeError, ValueError):
            return value
    return value


def _change_rows(changes: dict, see_amount: bool) -> list[dict[str, Any]]:
    rows = []
    for name, pair in (changes or {}).items():
        old, new = (pair.get("old"), pair.get("new")) if isinstance(pair, dict) else (None, pair)
        rows.append(
            {
                "name": name,
                "label": _field_label(name),
                "old": _term_value(name, old, see_amount),
                "new": _term_value(name, new, see_amount),
            }
        )
    return rows


def _csv_response(filename: str, header: list[str], rows: Iterable[list[Any]]) -> HttpResponse:
    """UTF-8 CSV with a BOM (Excel), every text cell neutralised against formula injection."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(value) for value in row])
    response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _sla_aliases(priority: str) -> dict[str, str]:
    return {
        "first_response_minutes": f"{priority}_first_response_minutes",
        "resolution_minutes": f"{priority}_resolution_minutes",
    }


def _ordering(request, allowed: dict[str, str], default: list[str]) -> list[str]:
    try:
        ordering = parse_sort(request.GET.get("sort"), allowed, default)
    except SortError:
        messages.warning(request, _("That column cannot be sorted; showing the default order."))
        ordering = list(default)
    return [*ordering, "-pk" if ordering and ordering[0].startswith("-") else "pk"]
