"""Generate the PRD's volume for one tenant (issue 16), fast, reproducibly and resumably.

    python manage.py generate_volume --tenant "Volume Co" --customers 100000 --tickets 1000000 \\
        --communications 5000000 --health-rows 10000000 --seed 16 --months 12

1. Customers (with contacts and tags) are topped up to `--customers` with the demo generator (`generate_demo`).
2. Every app's volume step (`accounts.registry.volume_steps`, registered from each app's ready()) runs in weight
   order: contracts, service records (+ rollup rebuild), communications, health history. Each writes multi-row
   INSERTs, one transaction per chunk of customers, and tops up to its target: a rerun adds only what is missing
   (`--steps contracts,service_records` runs some of them, e.g. to release a benchmark lock between steps).
3. Each step refreshes the customers' denormalised figure it owns with one set-based UPDATE; the command ends with
   the analytics consistency check's numbers when that app is installed (`--check`).

Per step it prints rows, seconds, rows/s and (MariaDB) the table's data + index size.
"""

from __future__ import annotations

import time

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from accounts.registry import volume_steps
from accounts.services import job_run
from accounts.tenancy import tenant_scope
from accounts.volume import VolumePlan
from customers.management.commands.generate_demo import Command as DemoCommand
from customers.management.commands.generate_demo import generate
from customers.models import Customer, CustomerContact, CustomerTag
from customers.volume import load_frame


def table_size(model) -> dict:
    """Rows of the active tenant, and (MariaDB/MySQL) the table's data and index megabytes from information_schema."""
    info = {"rows": model.objects.count()}
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_rows, data_length, index_length FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = %s",
                [model._meta.db_table],
            )
            row = cursor.fetchone()
        if row:
            info.update(data_mb=round(row[1] / 2**20, 1), index_mb=round(row[2] / 2**20, 1), table_rows=row[0])
    return info


def analyze(models) -> None:
    """Refresh the planner statistics after a step (ANALYZE TABLE commits implicitly on MariaDB: never inside a
    caller's transaction)."""
    if connection.in_atomic_block:
        return
    tables = [m._meta.db_table for m in models]
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute("ANALYZE TABLE " + ", ".join(f"`{t}`" for t in tables))
            cursor.fetchall()
        elif connection.vendor == "sqlite":
            for t in tables:
                cursor.execute(f'ANALYZE "{t}"')


class Command(BaseCommand):
    help = "Generate the PRD volume (customers, contracts, tickets, communications, health history) for a tenant."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant name (or id)")
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--tickets", type=int, default=1_000_000, help="service records over --months")
        parser.add_argument("--communications", type=int, default=5_000_000)
        parser.add_argument("--health-rows", dest="health_rows", type=int, default=10_000_000)
        parser.add_argument("--months", type=int, default=12, help="months the tickets and communications span")
        parser.add_argument("--seed", type=int, default=16)
        parser.add_argument("--chunk", type=int, default=2000, help="customers per transaction")
        parser.add_argument("--steps", default="", help="comma-separated step keys (default: customers and all)")
        parser.add_argument("--check", action="store_true", help="run the consistency check at the end")
        parser.add_argument(
            "--budget-minutes",
            dest="budget",
            type=float,
            default=0,
            help="stop at a chunk boundary after this long (0: no limit); a rerun continues where it stopped",
        )

    def handle(self, *args, tenant, customers, tickets, communications, health_rows, months, seed, chunk, steps,
               check, budget=0, **options):  # fmt: skip
        for name, value in (("customers", customers), ("tickets", tickets), ("communications", communications),
                            ("health-rows", health_rows), ("months", months), ("chunk", chunk)):  # fmt: skip
            if value < 0 or (name in {"months", "chunk"} and value == 0):
                raise CommandError(f"--{name} must be {'1' if name in {'months', 'chunk'} else '0'} or more")
        wanted = {s.strip() for s in steps.split(",") if s.strip()}
        known = {"customers"} | {step.key for step in volume_steps}
        if wanted - known:
            raise CommandError(f"unknown step(s) {sorted(wanted - known)}; known: {sorted(known)}")
        tenant_obj = DemoCommand._tenant(tenant)
        plan = VolumePlan(
            customers=customers,
            tickets=tickets,
            communications=communications,
            health_rows=health_rows,
            months=months,
            seed=seed,
            chunk=chunk,
            now=timezone.now().replace(microsecond=0),
            log=self.stdout.write,
            deadline=time.monotonic() + budget * 60 if budget else None,
        )
        report = []
        total_started = time.monotonic()
        with tenant_scope(tenant_obj), job_run("generate_volume", tenant_obj) as counts:
            if not wanted or "customers" in wanted:
                started = time.monotonic()
                missing = max(0, customers - Customer.objects.alive().count())
                demo_counts: dict = {}
                if missing:
                    generate(tenant_obj, missing, seed=seed, counts=demo_counts, progress=self._progress)
                report.append(
                    ("customers", missing, time.monotonic() - started, (Customer, CustomerContact, CustomerTag))
                )
                self._line(*report[-1])
            started = time.monotonic()
            frame = load_frame(plan)
            self.stdout.write(f"frame: {len(frame)} customers in {time.monotonic() - started:.1f} s")
            for step in volume_steps:
                if wanted and step.key not in wanted:
                    continue
                started = time.monotonic()
                result = step.runner()(tenant_obj, plan, frame)
                elapsed = time.monotonic() - started
                models = tuple(apps.get_model(label) for label in step.tables)
                analyze(models)
                plan.results[step.key] = result
                counts[step.key] = result.get("rows", 0)
                report.append((step.key, result.get("rows", 0), elapsed, models))
                self._line(*report[-1], extra=result)
                if plan.stopped:
                    break
            if check and apps.is_installed("analytics"):
                from django.utils.module_loading import import_string

                found = import_string("analytics.consistency.drift")()
                self.stdout.write("consistency drift: " + ", ".join(f"{k}={len(v)}" for k, v in found.items()))
        elapsed = time.monotonic() - total_started
        if plan.stopped:
            self.stdout.write(
                self.style.WARNING(f"Stopped after {elapsed:.1f} s (budget spent); run again to continue.")
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Volume for '{tenant_obj.name}' in {elapsed:.1f} s."))

    def _line(self, key, rows, elapsed, models, extra=None):
        rate = rows / elapsed if elapsed > 0 else 0
        sizes = "; ".join(
            f"{m._meta.db_table}: {s['rows']} rows"
            + (f", {s['data_mb']} + {s['index_mb']} MB" if "data_mb" in s else "")
            for m, s in ((m, table_size(m)) for m in models)
        )
        more = f" {extra}" if extra else ""
        self.stdout.write(f"step {key}: {rows} rows in {elapsed:.1f} s ({rate:,.0f} rows/s) | {sizes}{more}")

    def _progress(self, done: int, total: int) -> None:
        if total >= 10_000 and done % 20_000 < 2000:
            self.stdout.write(f"  customers {done}/{total}")
