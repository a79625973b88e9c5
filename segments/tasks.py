"""Nightly segment jobs, one task per tenant (fanned out by accounts.tasks.fan_out)."""

from celery import shared_task

from accounts.services import job_run
from crm_project.tasks import TenantTask
from segments import services


@shared_task(base=TenantTask, name="segments.tasks.evaluate_segments")
def evaluate_segments(tenant) -> dict:
    """Re-evaluate every rule segment: membership entered / left, today's figures."""
    with job_run("evaluate_segments", tenant) as counts:
        counts.update(services.segments_evaluate_all())
    return counts


@shared_task(base=TenantTask, name="segments.tasks.compute_rfm")
def compute_rfm(tenant) -> dict:
    """RFM scores and named segments from contract revenue and payments, then the behavioural clusters."""
    with job_run("compute_rfm", tenant) as counts:
        counts.update(services.rfm_compute())
    return counts
