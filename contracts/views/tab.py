"""The customer page's Contracts tab (registered from contracts/apps.py)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from contracts import selectors
from contracts.choices import ContractStatus
from contracts.masking import can_see_amount
from contracts.views.common import (
    STATUS_BADGES,
    _with_amounts,
)


def customer_contracts_tab_context(request, customer) -> dict[str, Any]:
    """Context of the customer page's Contracts tab (template contracts/_customer_contracts_tab.html)."""
    contracts = _with_amounts(selectors.customer_contracts(request.user, customer), request.user)
    today = timezone.localdate()
    active = [c for c in contracts if c.status == ContractStatus.ACTIVE]
    return {
        "customer_contracts": contracts,
        "customer_active_contracts": len(active),
        "customer_next_end": min((c.end_date for c in active if c.end_date >= today), default=None),
        "contract_status_badges": STATUS_BADGES,
        "customer_contracts_url": reverse("contracts:contract_list") + f"?customer={customer.pk}",
        "customer_contract_create_url": reverse("contracts:contract_create") + f"?customer={customer.pk}",
        "customer_see_amount": can_see_amount(request.user),
    }
