"""Reads of contracts for the staff UI, the API and jobs: above all, who sees which contract.

Visibility of a contract follows its customer: a contract is visible exactly when its customer is
(`customers.selectors.customers_visible_to`). Anything else (another tenant, an unassigned customer of a CSM,
a deleted customer) is treated like a missing row, so callers answer 404.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

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


# --- Amounts (encrypted at rest: sums, ranges and sorting run here, in Python) ---------------------------------------
AMOUNT = "contract_amount"
ZERO = Decimal("0")


def amount_totals(
    queryset: QuerySet, by: str | tuple[str, ...] | None = "customer_id", *, amount: str = AMOUNT
) -> dict[Any, Decimal]:
    """{value of `by`: sum of the decrypted amounts} over `queryset` (rows whose amount is NULL or unreadable are
    skipped, as SQL's SUM skips NULL). `by` may be a tuple of fields or annotations (keys are then tuples);
    `by=None` gives one total under the key None. Keys without rows are absent, like the groups of a GROUP BY.
    One query; each value is decrypted once, in one loop (docs/performance.md)."""
    totals: dict[Any, Decimal] = {}
    get = totals.get
    values = queryset.order_by()
    if by is None:
        rows = ((None, value) for value in values.values_list(amount, flat=True).iterator(chunk_size=5000))
    elif isinstance(by, tuple):
        rows = ((tuple(row[:-1]), row[-1]) for row in values.values_list(*by, amount).iterator(chunk_size=5000))
    else:
        rows = values.values_list(by, amount).iterator(chunk_size=5000)
    for key, value in rows:
        if value is not None:
            totals[key] = get(key, ZERO) + value
    return totals


def amount_total(queryset: QuerySet, *, amount: str = AMOUNT) -> Decimal:
    """The sum of the decrypted amounts of `queryset` (0 when there is none)."""
    return amount_totals(queryset, None, amount=amount).get(None, ZERO)


def amount_matches(value: Decimal | None, operator: str, target) -> bool:
    """`value <operator> target` as SQL would compare it (NULL matches nothing); operators eq, ne, gt, gte, lt, lte,
    in (target a list)."""
    if value is None:
        return False
    if operator == "in":
        return any(value == Decimal(str(t)) for t in target)
    target = Decimal(str(target))
    return {
        "eq": value == target,
        "ne": value != target,
        "gt": value > target,
        "gte": value >= target,
        "lt": value < target,
        "lte": value <= target,
    }[operator]


def order_by_amount(queryset: QuerySet, ordering: list[str], *, amount: str = AMOUNT) -> AmountOrdered:
    """`queryset` in `ordering` (ORM paths, `-` for descending, `contract_amount` among them) sorted in Python over
    decrypted amounts: one query for the sort keys of the whole (already filtered) set, then one per page or chunk.
    NULLs sort first ascending and last descending (as SQLite and MariaDB do); the last term should be unique."""
    fields = [term.lstrip("-") for term in ordering]
    rows = list(queryset.order_by().values_list("pk", *fields))
    for position in range(len(fields) - 1, -1, -1):  # stable sorts, least significant key first
        descending = ordering[position].startswith("-")
        index = position + 1
        rows.sort(
            key=lambda row, i=index: (row[i] is not None, row[i] if row[i] is not None else 0), reverse=descending
        )
    return AmountOrdered(queryset, [row[0] for row in rows])


class AmountOrdered:
    """A sequence of model instances in a precomputed primary-key order (for Paginator, exports and templates)."""

    CHUNK = 500

    def __init__(self, queryset: QuerySet, pks: list):
        self.queryset = queryset
        self.pks = pks

    def __len__(self) -> int:
        return len(self.pks)

    def count(self) -> int:
        return len(self.pks)

    def _fetch(self, pks: list) -> list:
        found = self.queryset.in_bulk(pks)
        return [found[pk] for pk in pks if pk in found]

    def __getitem__(self, item):
        if isinstance(item, slice):
            return self._fetch(self.pks[item])
        return self._fetch([self.pks[item]])[0]

    def __iter__(self):
        for start in range(0, len(self.pks), self.CHUNK):
            yield from self._fetch(self.pks[start : start + self.CHUNK])

    def exists(self) -> bool:
        return bool(self.pks)
