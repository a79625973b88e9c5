"""Benchmark of rule segments over many customers (figures for docs/performance.md).

    .venv/bin/python bench/segments_bench.py --customers 100000      # SQLite (data/bench_segments.sqlite3)
    DATABASE_URL=mysql://root@127.0.0.1:3306/crm_segments_bench .venv/bin/python bench/segments_bench.py

1. migrate; tenant "Segments Bench" gets --customers customers (bulk: industry, level, health, ltv, renewal date),
   one signed contract each and the tag "VIP" on every tenth; a tenant that already has the volume is reused.
2. rule evaluation: `apply_rules(...).count()` for the issue's rule (column conditions, nested OR), a rule with
   a tag and a contract-revenue subquery, and `services.segment_evaluate` (membership rows written) first run and
   rerun; each count run 5 times: median.
3. members listing: what `GET /segments/{id}/members?page=N&size=20` does (visibility queryset, rule, count, one
   page, the customer list's item shape) for page 1 and a deep page, 5 runs each: median.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'data' / 'bench_segments.sqlite3'}")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Tenant, User  # noqa: E402
from accounts.services import tenant_create  # noqa: E402
from accounts.tenancy import tenant_scope  # noqa: E402
from contracts.models import Contract  # noqa: E402
from customers.api.serializers import customer_list_item  # noqa: E402
from customers.models import Customer, CustomerTag  # noqa: E402
from segments import selectors, services  # noqa: E402
from segments.models import Segment  # noqa: E402
from segments.rules import apply_rules  # noqa: E402

BATCH = 5000
INDUSTRIES = ["软件开发", "制造业", "零售", "金融", "医疗", "教育", "物流", "能源"]
ISSUE_RULE = {
    "op": "and",
    "conditions": [
        {"field": "industry", "operator": "eq", "value": "软件开发"},
        {
            "op": "or",
            "conditions": [
                {"field": "level", "operator": "gte", "value": 3},
                {"field": "health_score", "operator": "lt", "value": 60},
            ],
        },
    ],
}
FACT_RULE = {
    "op": "and",
    "conditions": [
        {"field": "tag", "operator": "eq", "value": "VIP"},
        {"field": "revenue", "operator": "gte", "value": 300000},
        {"field": "days_to_renewal", "operator": "lte", "value": 180},
    ],
}


def generate(tenant, n: int, rng: random.Random) -> None:
    today = timezone.localdate()
    author = User.objects.filter(tenant=tenant).first()
    have = Customer.objects.count()
    for start in range(have, n, BATCH):
        size = min(BATCH, n - start)
        with transaction.atomic():
            customers = Customer.objects.bulk_create(
                [
                    Customer(
                        customer_code=f"SB{start + i:08d}",
                        customer_name=f"Segment bench {start + i}",
                        normalized_name=f"segment bench {start + i}",
                        name_key=f"segment bench {start + i}",
                        industry=rng.choice(INDUSTRIES),
                        level=rng.randint(1, 4),
                        status=2,
                        health_score=Decimal(rng.randint(10, 100)),
                        ltv=Decimal(rng.randint(1, 100) * 10000),
                        next_renewal_date=today + timedelta(days=rng.randint(-30, 365)),
                    )
                    for i in range(size)
                ]
            )
            if customers[0].pk is None:
                customers = list(Customer.objects.filter(customer_code__gte=f"SB{start:08d}").order_by("pk")[:size])
            Contract.objects.bulk_create(
                [
                    Contract(
                        customer=c,
                        contract_code=f"CSB{c.pk:09d}",
                        contract_name="Bench",
                        contract_amount=Decimal(rng.randint(5, 60) * 10000),
                        start_date=today - timedelta(days=rng.randint(30, 330)),
                        end_date=today + timedelta(days=rng.randint(30, 330)),
                        signed_date=today - timedelta(days=rng.randint(30, 330)),
                        status=2,
                        created_by=author,
                    )
                    for c in customers
                ]
            )
            CustomerTag.objects.bulk_create(
                [CustomerTag(customer=c, tag_name="VIP") for c in customers if c.pk % 10 == 0]
            )
        print(f"  generated {start + size} customers", flush=True)


def median_ms(fn, runs: int = 5) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.filter(name="Segments Bench").first() or tenant_create(
        name="Segments Bench", admin_username="sbadmin", admin_password="bench-Passw0rd!"
    )
    rng = random.Random(14)
    print(f"database: {connection.vendor}")
    with tenant_scope(tenant):
        started = time.perf_counter()
        generate(tenant, args.customers, rng)
        print(f"data ready: {Customer.objects.count()} customers ({time.perf_counter() - started:.1f} s)")
        admin = User.objects.filter(tenant=tenant, username="sbadmin").first()
        alive = Customer.objects.alive()
        for label, rule in (
            ("issue rule (industry AND (level OR health))", ISSUE_RULE),
            ("tag+revenue+renewal", FACT_RULE),
        ):
            ms, count = median_ms(lambda rule=rule: apply_rules(alive, rule).count())
            print(f"rule count, {label}: {count} members, median {ms:.0f} ms")
        Segment.objects.filter(name__startswith="Bench ").delete()
        for label, rule in (("issue", ISSUE_RULE), ("facts", FACT_RULE)):
            segment = Segment.objects.create(name=f"Bench {label}", rules=rule, created_by=admin)
            for run in ("first evaluation", "re-evaluation"):
                t = time.perf_counter()
                result = services.segment_evaluate(segment=segment)
                print(f"segment_evaluate {label} {run}: {result} in {(time.perf_counter() - t) * 1000:.0f} ms")
            members = selectors.segment_members(admin, segment)
            total = members.count()
            for page in (1, max(1, total // 20 // 2)):

                def listing(page=page, segment=segment):
                    queryset = selectors.segment_members(admin, segment)
                    count = queryset.count()
                    rows = list(queryset[(page - 1) * 20 : page * 20])
                    return count, [customer_list_item(c, see_money=True) for c in rows]

                ms, (count, items) = median_ms(listing)
                print(
                    f"members listing {label}, page {page} of {count} (size 20): {len(items)} items, median {ms:.0f} ms"
                )


if __name__ == "__main__":
    main()
