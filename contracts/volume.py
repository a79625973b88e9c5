"""Volume step of contracts (`manage.py generate_volume`): the contract history behind each customer's status.

A formal customer has its running yearly contract (active, its end is the next renewal date) and, when it has
been a customer for more than a year, the expired one before it (the predecessor); a lost customer has one
contract that ended `frame.lost_days` ago; potential customers have none. Customers that already have a contract
are left alone (a rerun tops up). Afterwards `ltv` and `next_renewal_date` are refreshed set-based.
"""

from __future__ import annotations

import numpy as np
from django.db.models import DecimalField, Min, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from accounts.services import code_next_many
from accounts.tenancy import current_tenant
from accounts.volume import VolumePlan, chunked_write, date_text, dt_text, insert_rows
from contracts.choices import ContractStatus
from contracts.models import Contract
from customers import services as customer_services
from customers.volume import Frame

COLUMNS = [
    "tenant_id",
    "customer_id",
    "contract_code",
    "contract_name",
    "contract_amount",
    "start_date",
    "end_date",
    "status",
    "signed_date",
    "created_by_id",
    "version",
    "predecessor_id",
    "created_at",
    "updated_at",
]


def run(tenant, plan: VolumePlan, frame: Frame) -> dict:
    has = set(Contract.objects.values_list("customer_id", flat=True).distinct())
    needs = (frame.formal | frame.lost) & ~np.isin(frame.ids, np.fromiter(has, dtype=np.int64, count=len(has)))
    author = User.objects.filter(tenant=tenant, is_active=True).order_by("pk").values_list("pk", flat=True).first()
    tenant_id = current_tenant().pk

    def write(ids, number):
        rng = plan.rng("contracts", int(ids[0]))
        at = frame.index_of(ids)
        n = len(ids)
        lost = frame.lost[at]
        # End of the running (formal) or last (lost) contract, local days since epoch.
        end = np.where(lost, frame.today_d - frame.lost_days[at], frame.today_d + rng.integers(1, 365, n))
        start = end - 364
        amount = (rng.integers(5, 61, n) * 10000 * (0.6 + 0.8 * frame.latent[at]) * frame.level_factor[at]).round(-2)
        created_d = frame.created_s[at] // 86400
        previous = ~lost & (start - 365 >= created_d - 30)
        count = n + int(previous.sum())
        codes = code_next_many("CT", count)
        stamp = dt_text(np.full(n, frame.now_s))
        starts, ends = date_text(start), date_text(end)
        prev_at = np.flatnonzero(previous)
        prev_rows = []
        p_starts, p_ends = date_text(start[prev_at] - 365), date_text(start[prev_at] - 1)
        for k, i in enumerate(prev_at):
            prev_rows.append(
                (
                    tenant_id,
                    int(ids[i]),
                    codes[n + k],
                    f"运维服务合同 {p_starts[k][:4]}",
                    f"{amount[i] * 0.92:.2f}",
                    p_starts[k],
                    p_ends[k],
                    int(ContractStatus.EXPIRED),
                    p_starts[k],
                    author,
                    1,
                    None,
                    stamp[i],
                    stamp[i],
                )
            )
        insert_rows(Contract, COLUMNS, prev_rows)
        predecessor = dict(Contract.objects.filter(contract_code__in=codes[n:]).values_list("customer_id", "pk"))
        rows = []
        for i in range(n):
            before = predecessor.get(int(ids[i]))
            rows.append(
                (
                    tenant_id,
                    int(ids[i]),
                    codes[i],
                    f"运维服务合同 {starts[i][:4]}",
                    f"{amount[i]:.2f}",
                    starts[i],
                    ends[i],
                    int(ContractStatus.EXPIRED if lost[i] else ContractStatus.ACTIVE),
                    starts[i],
                    author,
                    2 if before else 1,
                    before,
                    stamp[i],
                    stamp[i],
                )
            )
        insert_rows(Contract, COLUMNS, rows)
        return count

    written = chunked_write(plan, "contracts", frame.ids, needs, write)
    counts = {"rows": written, "customers": int(needs.sum())}
    counts.update(refresh_figures())
    return counts


def refresh_figures() -> dict:
    """ltv = the customer's non-draft contract amounts; next renewal = the earliest end of an active contract."""
    revenue = (
        Contract.objects.filter(customer_id=OuterRef("pk"))
        .exclude(status=ContractStatus.DRAFT)
        .order_by()
        .values("customer_id")
        .annotate(total=Sum("contract_amount"))
        .values("total")
    )
    renewal = (
        Contract.objects.active()
        .filter(customer_id=OuterRef("pk"))
        .order_by()
        .values("customer_id")
        .annotate(end=Min("end_date"))
        .values("end")
    )
    money = DecimalField(max_digits=15, decimal_places=2)
    return {
        "ltv_set": customer_services.customers_figure_recompute(
            field="ltv", source=Coalesce(Subquery(revenue, output_field=money), Value(0), output_field=money)
        ),
        "renewal_set": customer_services.customers_figure_recompute(
            field="next_renewal_date", source=Subquery(renewal)
        ),
    }
