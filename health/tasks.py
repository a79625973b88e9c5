"""Health jobs, one task per tenant (fanned out by accounts.tasks.fan_out from the jobs registry).

The nightly scoring fans out once more inside a tenant: `score_customers` splits the tenant's customers into
consecutive id ranges of `FANOUT_CHUNK` and, when Celery has a result backend (Redis), runs a chord of
`score_customers_chunk` tasks (any free worker takes one) whose callback `score_customers_finish` refreshes the
lifetime values and closes the run record with the summed counts. Every chunk upserts its customers' rows of the
day, so a chunk retried or rerun after a crash leaves exactly one row per customer and day. Without a result
backend (the embedded `make run` queue, eager tests) the chunks run one after another in the same task.
"""

from __future__ import annotations

import traceback
from datetime import date

from celery import chord, shared_task
from django.conf import settings
from django.utils import timezone

from accounts.models import JobRun
from accounts.services import job_heartbeat, job_run
from accounts.tenancy import unscoped
from crm_project.tasks import TenantTask
from health import services

FANOUT_CHUNK = 10000
SUMMED = ("customers", "scored", "unknown", "alerts")


def _chord_available() -> bool:
    return bool(getattr(settings, "CELERY_RESULT_BACKEND", None)) and not settings.CELERY_TASK_ALWAYS_EAGER


def _sum(results: list[dict]) -> dict:
    counts = {key: sum(int(r.get(key, 0)) for r in results) for key in SUMMED}
    counts["chunks"] = len(results)
    counts["model_used"] = int(any(r.get("model_used") for r in results))
    return counts


@shared_task(base=TenantTask, name="health.tasks.score_customers")
def score_customers(tenant, day: str | None = None, chunk: int | None = None) -> dict:
    """Nightly: score every customer for the day (idempotent per day), refresh LTV, then alerts."""
    day_ = date.fromisoformat(day) if day else timezone.localdate()
    ranges = services.score_ranges(chunk=chunk or FANOUT_CHUNK)
    if len(ranges) > 1 and _chord_available():
        with unscoped("the run record of a fan-out is closed by its chord callback"):
            run = JobRun.objects.create(
                job_name="score_customers", tenant=tenant, counts={"chunks": len(ranges)}, heartbeat_at=timezone.now()
            )
        header = [score_customers_chunk.s(tenant.pk, day_.isoformat(), lo, hi, run.pk) for lo, hi in ranges]
        chord(header)(score_customers_finish.s(tenant.pk, day_.isoformat(), run.pk))
        return {"chunks": len(ranges), "run": run.pk}
    with job_run("score_customers", tenant) as counts:
        results = [services.scores_save(day_, id_range=r, refresh_ltv=False) for r in ranges]
        counts.update(_sum(results))
        counts["ltv_updated"] = services.ltv_refresh()
    return counts


@shared_task(base=TenantTask, name="health.tasks.score_customers_chunk")
def score_customers_chunk(tenant, day: str, first_id: int, last_id: int, run_id: int | None = None) -> dict:
    """One id range of the nightly run (rows upserted: safe to retry). Each chunk is the run record's heartbeat,
    so a fan-out whose worker was killed is marked abandoned by the sweeper, and a long healthy one is not."""
    try:
        if run_id is not None:
            job_heartbeat(run_id)
        return services.scores_save(date.fromisoformat(day), id_range=(first_id, last_id), refresh_ltv=False)
    except Exception as exc:
        if run_id is not None:
            with unscoped("marking the fan-out's run record failed"):
                JobRun.objects.filter(pk=run_id).update(
                    status=JobRun.Status.FAILED,
                    finished_at=timezone.now(),
                    error=f"chunk {first_id}-{last_id}: "
                    + "".join(traceback.format_exception_only(exc)).strip()[:3900],
                )
        raise


@shared_task(name="health.tasks.score_customers_finish")
def score_customers_finish(results: list[dict], tenant_id: int, day: str, run_id: int) -> dict:
    """Chord callback (the chunks' results come first): LTV refresh for the tenant, then the run record."""
    from accounts.models import Tenant
    from accounts.tenancy import tenant_scope

    counts = _sum(results)
    with unscoped("a task loads its tenant by id"):
        tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_scope(tenant):
        counts["ltv_updated"] = services.ltv_refresh()
    with unscoped("closing the fan-out's run record"):
        JobRun.objects.filter(pk=run_id).update(
            status=JobRun.Status.SUCCEEDED, finished_at=timezone.now(), counts=counts
        )
    return counts


@shared_task(base=TenantTask, name="health.tasks.train_churn_model")
def train_churn_model(tenant) -> dict:
    """Weekly: train a churn model on the tenant's history; it becomes active only above the bar."""
    with job_run("train_churn_model", tenant) as counts:
        result = services.churn_model_train()
        counts["version"] = result.model.version if result.model else 0
        counts["active"] = int(bool(result.model and result.model.status == "active"))
    return counts
