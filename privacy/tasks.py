"""Nightly retention purge, one task per tenant (fanned out by accounts.tasks.fan_out)."""

from celery import shared_task

from accounts.services import job_run
from crm_project.tasks import TenantTask
from privacy import services


@shared_task(base=TenantTask, name="privacy.tasks.retention_purge")
def retention_purge(tenant) -> dict:
    """Delete communications, service records and audit entries past the tenant's retention periods."""
    with job_run("retention_purge", tenant) as counts:
        for line in services.retention_purge(tenant):
            counts[line["data_class"]] = line["purged"]
    return counts
