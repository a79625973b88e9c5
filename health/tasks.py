"""Health jobs, one task per tenant (fanned out by accounts.tasks.fan_out from the jobs registry)."""

from celery import shared_task
from django.utils import timezone

from accounts.services import job_run
from crm_project.tasks import TenantTask
from health import services


@shared_task(base=TenantTask, name="health.tasks.score_customers")
def score_customers(tenant) -> dict:
    """Nightly: score every customer for today (idempotent per day), refresh LTV, then alerts."""
    with job_run("score_customers", tenant) as counts:
        counts.update(services.scores_save(timezone.localdate()))
    return counts


@shared_task(base=TenantTask, name="health.tasks.train_churn_model")
def train_churn_model(tenant) -> dict:
    """Weekly: train a churn model on the tenant's history; it becomes active only above the bar."""
    with job_run("train_churn_model", tenant) as counts:
        result = services.churn_model_train()
        counts["version"] = result.model.version if result.model else 0
        counts["active"] = int(bool(result.model and result.model.status == "active"))
    return counts
