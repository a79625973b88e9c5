"""The one rule deciding who sees contract amounts, used by pages, the API, exports, logs, documents and previews.

Amounts (a contract's `contract_amount`, invoice and payment amounts, the `amount` placeholders of a contract
document) need `contracts.view_contract_amount` (finance, leads, admins). Everyone else sees `MASK` wherever the
amount would be, and a masked document says so (`MASKED_NOTICE`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from accounts.models import User
    from contracts.models import Contract

from accounts.roles import AMOUNT_PERMISSION, MASK, can_see_amounts

__all__ = ["AMOUNT_PERMISSION", "MASK", "MASKED_NOTICE", "can_see_amount", "mask"]

MASKED_NOTICE = _("Amounts are masked (***): you are not allowed to see contract amounts.")


def can_see_amount(user: User | None) -> bool:
    """Field-level permission on amounts (finance, leads, admins); nobody (None) sees them (accounts.roles' rule)."""
    return can_see_amounts(user)


def mask(value: Any, user: User | None = None, *, visible: bool | None = None) -> Any:
    """`value` for users allowed to see amounts, `MASK` for everyone else (`visible` skips the permission lookup)."""
    allowed = can_see_amount(user) if visible is None else visible
    return value if allowed else MASK


def masked_amount(contract: Contract, user: User | None) -> Decimal | str:
    """The contract amount for users allowed to see it, `***` for everyone else (pages, API, exports)."""
    return mask(contract.contract_amount, user)


def mask_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Audit-log changes with every amount replaced by `MASK` (PRD 7.3.2: logs are masked)."""
    return {field: (MASK, MASK) if field in AMOUNT_FIELDS else pair for field, pair in changes.items()}


AMOUNT_FIELDS = frozenset({"contract_amount", "amount"})
