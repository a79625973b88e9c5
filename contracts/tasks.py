"""Daily contract jobs, one task per tenant (fanned out by accounts.tasks.fan_out)."""

from celery import shared_task
from django.utils import timezone

from accounts.services import job_run
from contracts import services
from crm_project.tasks import TenantTask


@shared_task(base=TenantTask, name="contracts.tasks.send_renewal_reminders")
def send_renewal_reminders(tenant) -> dict:
    """90-day (per contract) renewal reminders; idempotent, safe after a crash."""
    with job_run("send_renewal_reminders", tenant) as counts:
        counts.update(services.renewal_reminders_send(today=timezone.localdate()))
    return counts


@shared_task(base=TenantTask, name="contracts.tasks.expire_contracts")
def expire_contracts(tenant) -> dict:
    """Expire ended contracts, create auto-renewals, let lapsed customers become lost."""
    with job_run("expire_contracts", tenant) as counts:
        counts.update(services.contracts_expire_due(today=timezone.localdate()))
    return counts
