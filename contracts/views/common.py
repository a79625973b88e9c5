"""What the contracts pages share: permissions, lookups, service errors on forms, amounts, CSV."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _

from contracts import selectors
from contracts.choices import ContractStatus, ContractType, RenewalType
from contracts.masking import AMOUNT_PERMISSION, MASK, masked_amount
from contracts.models import Contract
from contracts.services import ContractStateError
from crm_project import ui
from crm_project.exports import csv_response
from crm_project.ui import default_field_label, query_without, visible_or_404, wants_partial

# Re-exported for the feature modules.
__all__ = ["MASK", "csv_response", "query_without", "wants_partial"]

VIEW = "contracts.view_contract"
ADD = "contracts.add_contract"
CHANGE = "contracts.change_contract"
SIGN = "contracts.sign_contract"
REQUEST_CHANGE = "contracts.add_changerequest"
APPROVE = "contracts.approve_changerequest"
AMOUNT = AMOUNT_PERMISSION
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


field_label = default_field_label(Contract)


def contract_or_404(user, pk, *, detail: bool = False) -> Contract:
    """A contract the user may see (with every section prefetched when `detail`), else a 404 like a missing id."""
    return visible_or_404(selectors.contract_get_visible, user, pk, message=_("No such contract."), detail=detail)


def apply_service_errors(exc: ValidationError, form, aliases: dict[str, str] | None = None) -> None:
    """crm_project.ui.apply_service_errors with contract field names in form-level messages."""
    ui.apply_service_errors(exc, form, aliases=aliases, field_label=field_label)


def _detail_url(contract: Contract, anchor: str = "") -> str:
    return reverse("contracts:contract_detail", args=[contract.pk]) + (f"#{anchor}" if anchor else "")


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
                "label": field_label(name),
                "old": _term_value(name, old, see_amount),
                "new": _term_value(name, new, see_amount),
            }
        )
    return rows


def _sla_aliases(priority: str) -> dict[str, str]:
    return {
        "first_response_minutes": f"{priority}_first_response_minutes",
        "resolution_minutes": f"{priority}_resolution_minutes",
    }
