"""Reads of contracts for the staff UI, the API and jobs: above all, who sees which contract.

Visibility of a contract follows its customer: a contract is visible exactly when its customer is
(`customers.selectors.customers_visible_to`). Anything else (another tenant, an unassigned customer of a CSM,
a deleted customer) is treated like a missing row, so callers answer 404.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from contracts.choices import ChangeStatus
from contracts.models import (
    ChangeRequest,
    Contract,
    ContractSlaBinding,
    ContractTemplate,
    ContractVersion,
    Invoice,
    Milestone,
    Payment,
    SlaPolicy,
)
from customers.models import Customer
from customers.selectors import customers_visible_to


def contracts_visible_to(user: User) -> QuerySet[Contract]:
    """Contracts of the active tenant whose customer `user` may see."""
    return Contract.objects.filter(customer__in=customers_visible_to(user))


def contract_list_queryset(user: User) -> QuerySet[Contract]:
    """Visible contracts with what a list row shows (customer and its manager), in constant queries."""
    return contracts_visible_to(user).select_related("customer", "customer__assigned_manager")


def contract_detail_queryset(user: User) -> QuerySet[Contract]:
    """Visible contracts with every section of the contract page prefetched."""
    return (
        contracts_visible_to(user)
        .select_related("customer", "customer__assigned_manager", "created_by", "predecessor", "template")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=ContractVersion.objects.select_related("created_by", "change_request").order_by("-version"),
            ),
            Prefetch(
                "change_requests",
                queryset=ChangeRequest.objects.select_related("requested_by", "decided_by").order_by(
                    "-created_at", "-id"
                ),
            ),
            Prefetch("milestones", queryset=Milestone.objects.select_related("owner").order_by("due_date", "id")),
            Prefetch("sla_bindings", queryset=ContractSlaBinding.objects.select_related("policy").order_by("priority")),
            Prefetch(
                "invoices",
                queryset=Invoice.objects.order_by("-issue_date", "-id").prefetch_related(
                    Prefetch("payments", queryset=Payment.objects.order_by("-paid_date", "-id"))
                ),
            ),
        )
    )


def contract_get_visible(user: User, contract_id, *, detail: bool = False) -> Contract | None:
    """A visible contract by id, or None (missing, other tenant, invisible customer: all the same)."""
    try:
        pk = int(contract_id)
    except (TypeError, ValueError):
        return None
    queryset = contract_detail_queryset(user) if detail else contract_list_queryset(user)
    return queryset.filter(pk=pk).first()


def contract_successor(contract: Contract) -> Contract | None:
    """The renewal of `contract`, if one was made."""
    return Contract.objects.filter(predecessor=contract).first()


def change_requests_visible_to(user: User) -> QuerySet[ChangeRequest]:
    return ChangeRequest.objects.filter(contract__in=contracts_visible_to(user))


def pending_change_requests(user: User) -> QuerySet[ChangeRequest]:
    """Change requests waiting for a decision, on contracts `user` may see, oldest first."""
    return (
        change_requests_visible_to(user)
        .filter(status=ChangeStatus.PENDING)
        .select_related("contract", "contract__customer", "requested_by")
        .order_by("created_at", "id")
    )


def change_request_get_visible(user: User, change_id) -> ChangeRequest | None:
    try:
        pk = int(change_id)
    except (TypeError, ValueError):
        return None
    return change_requests_visible_to(user).select_related("contract").filter(pk=pk).first()


def renewal_pipeline_queryset(user: User, *, today: date, days: int) -> QuerySet[Contract]:
    """Active visible contracts ending between today and `days` days from now.

    Rows carry what `services.renewal_probability` reads (the customer and the invoices), so a page of the
    pipeline costs the same number of queries whatever its length.
    """
    return (
        contracts_visible_to(user)
        .active()
        .filter(end_date__gte=today, end_date__lte=today + timedelta(days=days))
        .select_related("customer", "customer__assigned_manager")
        .prefetch_related("invoices")
    )


def customer_contracts(user: User, customer: Customer) -> QuerySet[Contract]:
    """The contracts of one customer (the customer page's Contracts tab)."""
    return contracts_visible_to(user).filter(customer=customer).order_by("-start_date", "-id")


def active_templates() -> QuerySet[ContractTemplate]:
    return ContractTemplate.objects.filter(is_active=True).order_by("name")


def sla_policies() -> QuerySet[SlaPolicy]:
    return SlaPolicy.objects.order_by("name")
