"""Benchmark of service records: volume generation, ticket ingest, service-stats per customer, tenant-wide page.

    .venv/bin/python bench/service_records_bench.py                       # SQLite (data/bench_service.sqlite3)
    DATABASE_URL=mysql://root@127.0.0.1:3306/crm_sr_bench .venv/bin/python bench/service_records_bench.py

Steps (figures are printed with the machine's load; copy them to docs/performance.md):
1. migrate; the tenant "SR Bench" gets --customers customers (100,000) and one signed contract with P1-P4 SLA
   bindings for every 10th customer (bulk inserts).
2. --records service records (1,000,000) spread over those customers and the last 12 months, bulk-inserted
   (multi-row INSERTs of 10,000 rows through executemany, one transaction each) with their SLA columns
   precomputed (7x24), ~40 % rated; 50,000 NPS answers. Generation stops after --budget seconds: the volume
   actually reached is printed and used, never extrapolated. Then the rollups are rebuilt (the nightly job's
   work, timed) since the raw inserts bypass the services.
3. ingest: 1,000 tickets through the signed `POST /api/v1/integrations/tickets` in-process (new rows), the
   same batch again (nothing changed), and the batch with every ticket changed (1,000 updates); server time.
4. `GET /api/v1/customers/{id}/service-stats?period=12m` for --samples (200) DISTINCT random customers (a
   stream, never one customer repeated): mean/p50/p95, plus the same for period=3m.
5. the tenant-wide page `GET /service/?period=3m|12m` and `GET /api/v1/service-stats?period=3m`: fresh (the
   one-minute cache cleared before every request) and cached (server time, --runs runs each).
A tenant that already has the volume is reused (steps 1-2 are skipped then; --rebuild reruns the rollup job).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'data' / 'bench_service.sqlite3'}")
os.environ.setdefault("API_RATE_USER", "1000000/min")
os.environ.setdefault("API_RATE_IP", "1000000/min")
os.environ.setdefault("API_RATE_INTEGRATION", "1000000/min")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

settings.ALLOWED_HOSTS = ["*"]
settings.DEBUG = False

from accounts.integration import integration_key_create, sign  # noqa: E402
from accounts.models import Tenant, User  # noqa: E402
from accounts.tenancy import tenant_scope  # noqa: E402
from contracts.models import Contract, ContractSlaBinding  # noqa: E402
from crm_project.testing import api_client_for  # noqa: E402
from customers.models import Customer  # noqa: E402
from service_records.models import NpsResponse, ServiceRecord  # noqa: E402

TARGETS = {"P1": (30, 240), "P2": (60, 480), "P3": (240, 1440), "P4": (480, 4320)}
CATEGORIES = ["network", "server", "storage", "database", "account", "application", "security", "hardware"]


def load() -> str:
    """The 1/5/15-minute load averages (the machine is shared: every figure is printed with it)."""
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "?"


def stats(values: list[float]) -> str:
    values = sorted(values)
    n = len(values)
    return (
        f"mean {sum(values) / n:7.1f} ms  p50 {values[n // 2]:7.1f}  p95 {values[min(n - 1, int(n * 0.95))]:7.1f}"
        f"  max {values[-1]:7.1f}"
    )


def setup_tenant(customers: int) -> tuple[Tenant, User]:
    tenant = Tenant.objects.filter(name="SR Bench").first()
    if tenant is None:
        from accounts.services import tenant_create

        tenant = tenant_create(name="SR Bench", admin_username="srbench", admin_password="Bench-Pass-2026!")
    admin = User.objects.get(tenant=tenant, username="srbench")
    with tenant_scope(tenant):
        have = Customer.objects.count()
        if have < customers:
            start = time.perf_counter()
            batch = []
            for n in range(have, customers):
                name = f"基准客户 {n:06d}"
                batch.append(
                    Customer(
                        customer_code=f"SRB{n:08d}",
                        customer_name=name,
                        normalized_name=name.lower(),
                        status=2,
                        level=1,
                        assigned_manager=admin,
                    )  # fmt: skip
                )
                if len(batch) == 5000:
                    Customer.objects.bulk_create(batch)
                    batch = []
            Customer.objects.bulk_create(batch)
            ids = list(Customer.objects.order_by("id").values_list("id", flat=True))
            contracts = [
                Contract(
                    customer_id=cid,
                    contract_code=f"SRBCT{i:08d}",
                    contract_name="运维服务",
                    contract_amount=100000,
                    start_date=date(2025, 1, 1),
                    end_date=date(2027, 12, 31),
                    status=2,
                    created_by=admin,
                )  # fmt: skip
                for i, cid in enumerate(ids[::10])
            ]
            Contract.objects.bulk_create(contracts, batch_size=2000)
            bindings = [
                ContractSlaBinding(contract_id=cid, priority=p, first_response_minutes=f, resolution_minutes=r)
                for cid in Contract.objects.values_list("id", flat=True)
                for p, (f, r) in TARGETS.items()
            ]
            ContractSlaBinding.objects.bulk_create(bindings, batch_size=5000)
            print(
                f"[setup] {customers - have} customers, {len(contracts)} contracts "
                f"in {time.perf_counter() - start:.1f} s"
            )
    return tenant, admin


def generate_records(tenant: Tenant, target: int, budget: float) -> int:
    with tenant_scope(tenant):
        have = ServiceRecord.objects.count()
        if have >= target:
            print(f"[records] reusing {have:,} records")
            return have
        customers = list(Customer.objects.values_list("id", flat=True))
        contract_of = dict(Contract.objects.values_list("customer_id", "id"))
        rng = random.Random(16)
        now = timezone.now()
        start = time.perf_counter()
        made = have
        columns = [
            "tenant_id", "customer_id", "contract_id", "source_system", "external_id", "title", "description",
            "category", "priority", "channel", "status", "opened_at", "opened_month", "first_response_at",
            "resolved_at", "closed_at", "handling_minutes", "solution", "assignee", "sla_first_response_minutes",
            "sla_resolution_minutes", "sla_service_hours", "sla_business_calendar", "response_due_at",
            "resolution_due_at", "response_minutes", "resolution_minutes", "response_breached",
            "resolution_breached", "breached", "breach_minutes", "sla_state", "satisfaction_overall",
            "satisfaction_response_speed", "satisfaction_professionalism", "satisfaction_resolution_quality",
            "satisfaction_comment", "rated_at", "created_at", "updated_at",
        ]  # fmt: skip
        sql = (
            f"INSERT INTO {ServiceRecord._meta.db_table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        dt = connection.ops.adapt_datetimefield_value
        stamp = dt(now)
        while made < target and time.perf_counter() - start < budget:
            rows = []
            for n in range(made, min(target, made + 10000)):
                cid = rng.choice(customers)
                priority = rng.choice(("P1", "P2", "P2", "P3", "P3", "P3", "P4"))
                opened = now - timedelta(minutes=rng.randint(0, 365 * 24 * 60))
                is_open = rng.random() < 0.03
                contract = contract_of.get(cid)
                first_t, res_t = TARGETS[priority] if contract else (None, None)
                response = rng.randint(1, int((first_t or 120) * 1.4))
                resolution = max(response, rng.randint(10, int((res_t or 600) * 1.3)))
                rb = bool(first_t and response > first_t)
                sb = bool(res_t and not is_open and resolution > res_t)
                rated = not is_open and rng.random() < 0.4
                scores = [rng.choice((2, 3, 4, 4, 5, 5, 5)) if rated else None for _ in range(4)]
                resolved = None if is_open else dt(opened + timedelta(minutes=resolution))
                rows.append((
                    tenant.pk, cid, contract, "bench", f"B{n:09d}", f"工单 {n}", "", rng.choice(CATEGORIES),
                    priority, "portal", "open" if is_open else "resolved", dt(opened),
                    connection.ops.adapt_datefield_value(timezone.localdate(opened).replace(day=1)),
                    dt(opened + timedelta(minutes=response)), resolved, None, None if is_open else resolution, "",
                    "", first_t, res_t, "7x24" if contract else "", "{}",
                    dt(opened + timedelta(minutes=first_t)) if first_t else None,
                    dt(opened + timedelta(minutes=res_t)) if res_t else None,
                    response, None if is_open else resolution, rb, sb, rb or sb,
                    max(response - first_t if rb else 0, resolution - res_t if sb else 0) or None,
                    ("breached" if rb or sb else "ok") if contract else "none", *scores, "",
                    resolved if rated else None, stamp, stamp,
                ))  # fmt: skip
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, rows)
            made += len(rows)
            if made % 100_000 < 10000:
                print(f"[records] {made:,} after {time.perf_counter() - start:.0f} s", flush=True)
        elapsed = time.perf_counter() - start
        print(
            f"[records] generated {made - have:,} in {elapsed:.1f} s ({(made - have) / elapsed:,.0f}/s); total {made:,}"
        )
        if not NpsResponse.objects.exists():
            answers = []
            for _ in range(50_000):
                when = now - timedelta(days=rng.randint(0, 364))
                answers.append(
                    NpsResponse(customer_id=rng.choice(customers), score=rng.choice((3, 6, 7, 8, 9, 9, 10, 10)),
                                responded_at=when, responded_month=timezone.localdate(when).replace(day=1))
                )  # fmt: skip
            NpsResponse.objects.bulk_create(answers, batch_size=5000)
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        rebuild_rollups()
        return made


def rebuild_rollups() -> None:
    from service_records import rollup

    start = time.perf_counter()
    counts = rollup.rebuild()
    print(f"[rollup] rebuilt from {counts['tickets']:,} tickets: {counts['rows']:,} day rows in "
          f"{time.perf_counter() - start:.1f} s (load {load()})", flush=True)  # fmt: skip


def bench_ingest(tenant: Tenant) -> None:
    key, secret = integration_key_create(tenant=tenant, name="bench")
    with tenant_scope(tenant):
        codes = list(Customer.objects.filter(contracts__isnull=False).values_list("customer_code", flat=True)[:1000])
    stamp = datetime.now().strftime("%H%M%S")
    tickets = [
        {"external_id": f"ING-{stamp}-{i}", "source_system": "itsm", "customer_code": codes[i % len(codes)],
         "title": "Core switch down", "description": "链路中断", "category": CATEGORIES[i % 8],
         "priority": ("P1", "P2", "P3", "P4")[i % 4], "channel": "phone", "status": ("resolved", "open")[i % 7 == 0],
         "opened_at": "2026-11-02 09:00:00", "first_response_at": "2026-11-02 09:40:00",
         "resolved_at": None if i % 7 == 0 else "2026-11-02 15:00:00", "closed_at": None, "assignee": "Wang Lei",
         "solution": "更换模块", "satisfaction": {"overall": 4, "response_speed": 3, "professionalism": 5,
                                              "resolution_quality": 4, "comment": "ok"}}
        for i in range(1000)
    ]  # fmt: skip
    changed = [
        {
            **t,
            "status": "closed",
            "closed_at": "2026-11-02 16:00:00",
            "satisfaction": {**t["satisfaction"], "overall": 5},
        }
        for t in tickets
    ]
    client = Client()
    base = int(time.time())
    for offset, label, batch in (
        (0, "1,000 new tickets", tickets),
        (30, "the same 1,000 again (unchanged)", tickets),
        (60, "the 1,000 again, all changed", changed),
    ):
        body = json.dumps({"tickets": batch}).encode()
        ts = str(base - offset)  # distinct timestamps: the same signature twice would be a replay
        start = time.perf_counter()
        response = client.generic(
            "POST", "/api/v1/integrations/tickets", body, content_type="application/json",
            HTTP_X_CRM_KEY=key.key_id, HTTP_X_CRM_TIMESTAMP=ts, HTTP_X_CRM_SIGNATURE=sign(secret, ts, body),
        )  # fmt: skip
        spent = time.perf_counter() - start
        data = response.json()["data"]
        print(f"[ingest] {label:<34} {spent:6.2f} s  created {data['created']} updated {data['updated']} "
              f"failed {len(data['failed'])}  (load {load()})", flush=True)  # fmt: skip


def bench_reads(tenant: Tenant, admin: User, samples: int, runs: int) -> None:
    from django.core.cache import cache

    client = api_client_for(admin)
    with tenant_scope(tenant):
        ids = list(Customer.objects.values_list("id", flat=True))
    rng = random.Random(int(time.time()))
    picks = rng.sample(ids, 2 * samples + 1)  # distinct customers: a stream, no warm repeat of one customer
    client.get(f"/api/v1/customers/{picks.pop()}/service-stats?period=12m")  # the process's first request
    for period, chosen in (("12m", picks[:samples]), ("3m", picks[samples:])):
        spent = []
        for cid in chosen:
            start = time.perf_counter()
            response = client.get(f"/api/v1/customers/{cid}/service-stats?period={period}")
            spent.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.content[:300]
        with tenant_scope(tenant):
            per = ServiceRecord.objects.filter(customer_id__in=chosen).count() / len(chosen)
        print(f"[stats] customer service-stats {period}, {samples} distinct customers (~{per:.0f} tickets each, all "
              f"periods): {stats(spent)}  (load {load()})", flush=True)  # fmt: skip
    # Reference: the plain customer detail endpoint for other distinct customers (the request overhead alone).
    spent = []
    for cid in rng.sample(ids, samples):
        start = time.perf_counter()
        response = client.get(f"/api/v1/customers/{cid}")
        spent.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content[:300]
    print(f"[stats] reference: GET /customers/{{id}}, {samples} distinct customers: {stats(spent)}  (load {load()})")
    from service_records.selectors import _overview_key

    page = Client()
    page.force_login(admin)
    for label, url, period in (
        ("tenant page /service/?period=3m", "/service/?period=3m", "3m"),
        ("tenant page /service/?period=12m", "/service/?period=12m", "12m"),
        ("tenant API /service-stats?period=3m", "/api/v1/service-stats?period=3m", "3m"),
    ):
        getter = page if url.startswith("/service/") else client
        for mode in ("fresh", "cached"):
            spent = []
            for _ in range(runs):
                if mode == "fresh":
                    cache.delete(_overview_key(admin, period))  # kept one minute: drop it, compute from the rollups
                else:
                    getter.get(url)
                start = time.perf_counter()
                response = getter.get(url)
                spent.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.status_code
            print(f"[tenant] {label:<38} {mode:<6} {stats(spent)}  (load {load()})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rebuild", action="store_true", help="rerun the rollup rebuild on a reused volume")
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    print(f"[bench] database: {connection.vendor} ({settings.DATABASES['default']['NAME']}), load {load()}", flush=True)
    call_command("migrate", verbosity=0)
    tenant, admin = setup_tenant(args.customers)
    with tenant_scope(tenant):
        total = generate_records(tenant, args.records, args.budget)
        print(f"[volume] {Customer.objects.count():,} customers, {total:,} service records, "
              f"{NpsResponse.objects.count():,} NPS answers")  # fmt: skip
        if args.rebuild:
            rebuild_rollups()
    if not args.skip_ingest:
        bench_ingest(tenant)
    bench_reads(tenant, admin, args.samples, args.runs)
    print(f"[bench] done (load {load()})")


if __name__ == "__main__":
    main()
