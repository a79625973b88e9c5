"""Daily jobs of success_tasks, one task per tenant (fanned out by accounts.tasks.fan_out)."""

from celery import shared_task

from accounts.services import job_run
from crm_project.tasks import TenantTask
from success_tasks import playbook, services


@shared_task(base=TenantTask, name="success_tasks.tasks.run_playbook_rules")
def run_playbook_rules(tenant) -> dict:
    """Evaluate every enabled playbook rule; idempotent (one open task per rule and customer, one per event)."""
    with job_run("run_playbook_rules", tenant) as counts:
        counts.update(playbook.run_nightly())
    return counts


@shared_task(base=TenantTask, name="success_tasks.tasks.measure_task_effectiveness")
def measure_task_effectiveness(tenant) -> dict:
    """Health change 30 days after completion; each task measured once."""
    with job_run("measure_task_effectiveness", tenant) as counts:
        counts.update(services.effectiveness_measure())
    return counts
