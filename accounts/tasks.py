"""Scheduled jobs of the accounts app and the fan-out that runs a tenant task for every tenant."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accounts.models import Notification, Tenant
from accounts.services import job_run, job_runs_sweep
from crm_project.tasks import TenantTask


@shared_task(name="accounts.tasks.fan_out")
def fan_out(task_name: str) -> int:
    """Queue `task_name` once per active tenant; returns how many were queued."""
    from crm_project.celery import app

    tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        app.send_task(task_name, args=(tenant_id,))
    return len(tenant_ids)


@shared_task(base=TenantTask, name="accounts.tasks.purge_read_notifications")
def purge_read_notifications(tenant: Tenant) -> dict:
    """Delete notifications read longer ago than the retention period (safe to rerun: it only deletes)."""
    with job_run("purge_read_notifications", tenant) as counts:
        cutoff = timezone.now() - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)
        deleted, _detail = Notification.objects.filter(read_at__lt=cutoff).delete()
        counts["deleted"] = deleted
    return counts


@shared_task(name="accounts.tasks.flush_expired_tokens")
def flush_expired_tokens() -> dict:
    """Drop expired refresh tokens from the blacklist tables (global, not per tenant)."""
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    with job_run("flush_expired_tokens") as counts:
        deleted, _detail = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
        counts["deleted"] = deleted
    return counts


@shared_task(name="accounts.tasks.sweep_job_runs")
def sweep_job_runs() -> dict:
    """Mark job runs whose worker died (no heartbeat for JOB_ABANDONED_AFTER_SECONDS) as abandoned (global)."""
    with job_run("sweep_job_runs") as counts:
        counts.update(job_runs_sweep())
    return counts
