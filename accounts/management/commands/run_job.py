"""`manage.py run_job NAME [--tenant NAME]`: run a registered job now (PRD 8.3.2 manual recalculation).

The job runs in this process through its Celery task, so it is recorded exactly like a scheduled run
(a job run per tenant, with its counts). `run_job --list` prints the job names, one a line.
"""

from __future__ import annotations

import json
from importlib import import_module

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tenant
from accounts.registry import jobs
from accounts.tenancy import unscoped


class Command(BaseCommand):
    help = "Run a scheduled job at once (every active tenant, or one with --tenant); --list shows the jobs."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="the job's name (see --list)")
        parser.add_argument("--tenant", help="run for this tenant only (its name)")
        parser.add_argument("--list", action="store_true", dest="list_jobs", help="print the job names, one a line")

    def handle(self, *args, name=None, tenant=None, list_jobs=False, **options):
        if list_jobs:
            for job in jobs:
                self.stdout.write(job.key)
            return
        if not name:
            raise CommandError("Name a job (run_job --list shows them).")
        job = jobs.get(name)
        if job is None:
            raise CommandError(f"No job named {name!r}; run_job --list shows them.")
        from crm_project.celery import app

        import_module(job.task.rsplit(".", 1)[0])  # the task's module registers it (autodiscovery is lazy)
        task = app.tasks[job.task]
        if not job.per_tenant:
            if tenant:
                raise CommandError(f"{name} is not a per-tenant job; run it without --tenant.")
            self._report(name, None, task.apply(throw=True).get())
            return
        with unscoped("run_job picks the tenants to run a job for"):
            tenants = Tenant.objects.order_by("pk")
            if tenant:
                chosen = list(tenants.filter(name=tenant))
                if not chosen:
                    raise CommandError(f"No tenant named {tenant!r}.")
                if not chosen[0].is_active:
                    raise CommandError(f"Tenant {tenant!r} is inactive; its jobs do not run.")
            else:
                chosen = list(tenants.filter(is_active=True))
        for item in chosen:
            self._report(name, item, task.apply(args=(item.pk,), throw=True).get())

    def _report(self, name: str, tenant, result) -> None:
        where = f" [{tenant.name}]" if tenant is not None else ""
        self.stdout.write(f"{name}{where}: {json.dumps(result, ensure_ascii=False, default=str)}")
