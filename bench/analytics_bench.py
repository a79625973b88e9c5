"""Benchmark of the analytics jobs and pages' computations (figures for the issue 14 report).

    .venv/bin/python bench/analytics_bench.py --customers 2000    # SQLite (data/bench_analytics.sqlite3)
    DATABASE_URL=mysql://root@127.0.0.1:3306/crm_analytics_bench .venv/bin/python bench/analytics_bench.py

Data: the health bench's generator (customers with a yearly contract, invoices, tickets, usage events), one health
run, one contact per customer (a fifth with a malformed e-mail). Then, timed: the KPI dashboard (12 months, whole
tenant), the data quality report, the consistency check (twice: drift introduced, then clean), the nightly grading.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'data' / 'bench_analytics.sqlite3'}")

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Tenant  # noqa: E402
from accounts.services import tenant_create  # noqa: E402
from accounts.tenancy import tenant_scope  # noqa: E402
from analytics import consistency, grading, kpis, quality  # noqa: E402
from bench.health_bench import generate  # noqa: E402  (sets Django up)
from customers.models import Customer, CustomerContact  # noqa: E402
from health import services as health_services  # noqa: E402


def timed(label, fn):
    connection.force_debug_cursor = True
    reset_queries()
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    queries = len(connection.queries)
    connection.force_debug_cursor = False
    print(f"{label}: {elapsed:.2f} s, {queries} queries")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.filter(name="Analytics Bench").first() or tenant_create(
        name="Analytics Bench", admin_username="abadmin", admin_password="bench-Passw0rd!"
    )
    with tenant_scope(tenant):
        if Customer.objects.count() < args.customers:
            generate(tenant, args.customers, 4, 20, random.Random(7))
            health_services.scores_save(timezone.localdate(), alerts=False)
            have = set(CustomerContact.objects.values_list("customer_id", flat=True))
            CustomerContact.objects.bulk_create(
                [
                    CustomerContact(
                        customer_id=pk,
                        contact_name=f"C{pk}",
                        email=f"c{pk}@example.com" if pk % 5 else f"c{pk}@@bad",
                        is_primary=True,
                        primary_marker=1,
                    )
                    for pk in Customer.objects.values_list("pk", flat=True)
                    if pk not in have
                ],
                batch_size=2000,
            )
        customers = Customer.objects.alive()
        print(f"tenant: {customers.count()} customers, {CustomerContact.objects.count()} contacts")
        timed("KPI dashboard 12m (whole tenant)", lambda: kpis.dashboard(customers, period="12m"))
        timed("KPI dashboard 3m (whole tenant)", lambda: kpis.dashboard(customers, period="3m"))
        rows = timed("data quality: all customers", lambda: quality.customers_quality(customers))
        print("  summary:", {k: v for k, v in quality.summary(rows).items() if k != "gaps"})
        Customer.objects.filter(pk__in=list(customers.values_list("pk", flat=True)[:100])).update(ltv=1, health_score=1)
        print("  ", timed("consistency check (100 drifted)", consistency.repair))
        print("  ", timed("consistency check (clean)", consistency.repair))
        print("  ", timed("nightly grading", grading.suggestions_refresh))
        print("  ", timed("nightly grading (rerun)", grading.suggestions_refresh))


if __name__ == "__main__":
    main()
