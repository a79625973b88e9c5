"""Communication jobs, one task per tenant (daily jobs fanned out through the `accounts.registry.jobs` entries)."""

from celery import shared_task
from celery.signals import worker_process_init
from django.utils import timezone

from accounts.services import job_run
from communications import services
from crm_project.tasks import TenantTask


@shared_task(base=TenantTask, name="communications.tasks.analyze_communications")
def analyze_communications(tenant, ids: list[int]) -> dict:
    """Analyse communications logged in bulk (imports, bulk API); idempotent (it overwrites the analysis)."""
    with job_run("analyze_communications", tenant) as counts:
        counts["analyzed"] = services.communications_analyze(ids=[int(pk) for pk in ids])
    return counts


@shared_task(base=TenantTask, name="communications.tasks.send_follow_up_reminders")
def send_follow_up_reminders(tenant) -> dict:
    """Overdue follow-ups: their owner is reminded once."""
    with job_run("send_follow_up_reminders", tenant) as counts:
        counts.update(services.follow_up_reminders_send(today=timezone.localdate()))
    return counts


@shared_task(base=TenantTask, name="communications.tasks.send_no_contact_reminders")
def send_no_contact_reminders(tenant) -> dict:
    """Important customers without contact within their level's interval: their manager is reminded once per gap."""
    with job_run("send_no_contact_reminders", tenant) as counts:
        counts.update(services.contact_gap_reminders_send(now=timezone.now()))
    return counts


@worker_process_init.connect(dispatch_uid="communications.warm_nlp")
def warm_nlp(**kwargs) -> None:
    """Load jieba's dictionary when a worker process starts, not on its first communication."""
    from communications import nlp

    nlp.warm()
