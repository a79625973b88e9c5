"""Benchmark: every batch operation the product offers on customers, on 1,000 customers of a large tenant.

    DATABASE_URL=mysql://root@127.0.0.1:3306/crm_scaleops REDIS_URL=redis://127.0.0.1:6379/5 \
        flock /work/wt/bench.lock .venv/bin/python bench/batch_bench.py          # or: make bench-batch

Goal (issue 16): each ≤ 5 s for 1,000 customers (PRD: 30 s). The tenant is the bench tenant of `bench/run.py`
("Bench Tenant", 100,000 customers: make it first with `bench/run.py --skip-http`). Each operation runs inside a
transaction that is rolled back afterwards, so repeated runs leave the data unchanged (on-commit work such as
webhook deliveries therefore never starts; it is queued work, not part of the user's wait).

Operations (all there are on customers; no bulk share, status or delete is offered to users):
- staff list bulk action "assign manager" (POST /customers/bulk/, customers.services.customer_reassign)
- staff list bulk action "add tag" (POST /customers/bulk/, customers.services.tag_add_bulk)
- staff list bulk action "export selection" (redirect to GET /customers/export/?ids=…, CSV streamed, read fully)
- export of the same 1,000 customers as XLSX (GET /customers/export/?ids=…&format=xlsx)
- set-based status change of jobs (customers.services.customers_status_change_bulk: contracts' expiry job)
- figure repair of jobs (customers.services.customers_figures_set: the consistency check's repair)
The pages are driven in-process with Django's test client (full middleware stack, a signed-in tenant admin), the
services called directly. Figures are wall-clock seconds of one run each, plus the SQL query count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant", default="Bench Tenant")
    parser.add_argument("--count", type=int, default=1000, help="customers per batch")
    parser.add_argument("--explain", type=int, default=0, help="print the N most frequent query shapes of each step")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test import Client

    from accounts.models import Tenant, User
    from accounts.tenancy import tenant_scope, unscoped
    from customers import services
    from customers.choices import CustomerStatus
    from customers.models import Customer
    from customers.selectors import assignable_managers

    with unscoped("the bench picks its tenant"):
        tenant = Tenant.objects.get(name=args.tenant)
        admin = User.objects.filter(tenant=tenant, groups__name="tenant_admin", is_active=True).order_by("pk").first()
    with tenant_scope(tenant):
        total = Customer.objects.alive().count()
        offset = max(0, total // 2 - args.count // 2)
        customers = list(Customer.objects.alive().order_by("pk")[offset : offset + args.count])
        ids = [c.pk for c in customers]
        managers = list(assignable_managers(tenant))
        counts_by_manager: dict[int, int] = {}
        for c in customers:
            counts_by_manager[c.assigned_manager_id] = counts_by_manager.get(c.assigned_manager_id, 0) + 1
        # The manager who holds the fewest of them: nearly every row really changes.
        target = min(managers, key=lambda m: counts_by_manager.get(m.pk, 0))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    id_list = ",".join(map(str, ids))
    load = os.getloadavg()
    print(f"[batch] {connection.vendor} {connection.settings_dict['NAME']}; tenant {tenant.name!r}: {total} customers")
    print(f"[batch] {len(ids)} customers (ids {ids[0]}..{ids[-1]}), assign to {target.username}")
    print(f"[batch] load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 CPUs)")

    results = []

    def timed(label, func):
        shapes: Counter[str] = Counter()
        shape_seconds: Counter[str] = Counter()
        sql_seconds = [0.0]

        def count(execute, sql, params, many, context):
            shape = " ".join(sql.split()[:4])[:70]
            shapes[shape] += 1
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent = time.perf_counter() - started
                sql_seconds[0] += spent
                shape_seconds[shape] += spent

        with transaction.atomic(), connection.execute_wrapper(count):
            started = time.perf_counter()
            detail = func()
            seconds = time.perf_counter() - started
            transaction.set_rollback(True)
        queries = sum(shapes.values())
        results.append((label, seconds, queries, detail))
        verdict = "ok" if seconds <= GOAL_SECONDS else "OVER GOAL"
        print(
            f"{label:<58} {seconds:7.2f} s  {queries:6d} queries ({sql_seconds[0]:.2f} s SQL)  {detail}  [{verdict}]",
            flush=True,
        )
        if args.explain or seconds > GOAL_SECONDS:
            for shape, n in shapes.most_common(args.explain or 8):
                print(f"      {n:6d} × {shape_seconds[shape]:6.2f} s  {shape}")

    def bulk_post(data):
        response = client.post("/customers/bulk/", {"ids": id_list, "next": "/customers/", **data})
        assert response.status_code == 302, response.status_code
        messages = [str(m) for m in response.wsgi_request._messages]
        return messages[-1] if messages else response["Location"]

    def assign():
        return bulk_post({"action": "assign", "manager": target.pk})

    def tag():
        return bulk_post({"action": "tag", "tag_name": "batch-bench"})

    def export(file_format):
        def run():
            if file_format == "csv":
                location = client.post("/customers/bulk/", {"ids": id_list, "action": "export"})["Location"]
            else:
                location = f"/customers/export/?ids={id_list}&format=xlsx"
            response = client.get(location)
            assert response.status_code == 200, (response.status_code, response.get("Location"))
            body = b"".join(response.streaming_content) if response.streaming else response.content
            return f"{response['X-Export-Rows']} rows, {len(body) / 1024:.0f} KiB"

        return run

    def status_change():
        with tenant_scope(tenant):
            moved = services.customers_status_change_bulk(
                customers=Customer.objects.filter(pk__in=ids),
                new_status=CustomerStatus.LOST,
                reason="batch bench",
                actor=admin,
            )
        return f"{moved} moved to lost (the others may not move there)"

    def figures():
        with tenant_scope(tenant):
            changed = services.customers_figures_set(field="ltv", values={pk: Decimal("4321.00") for pk in ids})
        return f"{changed} rows"

    timed("assign manager (POST /customers/bulk/)", assign)
    timed("add tag (POST /customers/bulk/)", tag)
    timed("export selection CSV (bulk → GET /customers/export/)", export("csv"))
    timed("export selection XLSX (GET /customers/export/?format=xlsx)", export("xlsx"))
    timed("status change, set-based (customers_status_change_bulk)", status_change)
    timed("figure repair (customers_figures_set, ltv)", figures)
    load = os.getloadavg()
    print(f"[batch] load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    over = [label for label, seconds, _q, _d in results if seconds > GOAL_SECONDS]
    print(f"[batch] goal ≤ {GOAL_SECONDS:.0f} s per 1,000 customers: " + ("met" if not over else f"MISSED: {over}"))


if __name__ == "__main__":
    main()
