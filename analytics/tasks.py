"""Analytics jobs, one task per tenant (fanned out by accounts.tasks.fan_out); each records its JobRun."""

from celery import shared_task
from django.utils import timezone

from accounts.services import job_run
from analytics import consistency, grading, quality
from crm_project.tasks import TenantTask


@shared_task(base=TenantTask, name="analytics.tasks.grade_customers")
def grade_customers(tenant) -> dict:
    """Suggested levels from value, potential and risk (pending suggestions updated in place)."""
    with job_run("grade_customers", tenant) as counts:
        counts.update(grading.suggestions_refresh(today=timezone.localdate()))
    return counts


@shared_task(base=TenantTask, name="analytics.tasks.consistency_check")
def consistency_check(tenant) -> dict:
    """Denormalised customer figures checked against their sources; drift repaired; counts found / repaired."""
    with job_run("consistency_check", tenant) as counts:
        counts.update(consistency.repair())
    return counts


@shared_task(base=TenantTask, name="analytics.tasks.data_quality_reminders")
def data_quality_reminders(tenant) -> dict:
    """Each manager hears once a week which of their customers are incomplete."""
    with job_run("data_quality_reminders", tenant) as counts:
        counts.update(quality.reminders_send(today=timezone.localdate()))
    return counts
