"""Nightly segment jobs, one task per tenant (fanned out by accounts.tasks.fan_out)."""

from celery import shared_task
from django.utils import timezone

from accounts.services import job_run
from crm_project.tasks import TenantTask
from segments import campaigns, services, smart_tags


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


@shared_task(base=TenantTask, name="segments.tasks.maintain_system_tags")
def maintain_system_tags(tenant) -> dict:
    """System tags ("high value", "renewal due", "at risk") added and removed by their rules."""
    with job_run("maintain_system_tags", tenant) as counts:
        counts.update(smart_tags.system_tags_maintain(today=timezone.localdate()))
    return counts


@shared_task(base=TenantTask, name="segments.tasks.maintain_smart_tags")
def maintain_smart_tags(tenant) -> dict:
    """Automatic tags with a confidence (churn model, communication needs, usage) and tag recommendations."""
    with job_run("maintain_smart_tags", tenant) as counts:
        counts.update(smart_tags.smart_tags_maintain(now=timezone.now()))
    return counts


@shared_task(base=TenantTask, name="segments.tasks.attribute_campaigns")
def attribute_campaigns(tenant) -> dict:
    """Campaign outcomes per member (responded, converted, revenue within the window); idempotent."""
    with job_run("attribute_campaigns", tenant) as counts:
        counts.update(campaigns.campaigns_attribute_all())
    return counts


@shared_task(base=TenantTask, name="segments.tasks.contact_campaign")
def contact_campaign(tenant, campaign_id: int, actor_id: int | None = None) -> dict:
    """After a launch: e-mail and create CSM tasks for the treated members (idempotent: a handled member is skipped)."""
    from accounts.models import User
    from segments.models import Campaign

    with job_run("contact_campaign", tenant) as counts:
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is not None:
            actor = User.objects.filter(pk=actor_id, tenant=tenant).first() if actor_id else None
            counts.update(campaigns.campaign_contact(campaign=campaign, actor=actor or campaign.launched_by))
    return counts


@shared_task(base=TenantTask, name="segments.tasks.contact_campaigns")
def contact_campaigns(tenant) -> dict:
    """Sweep: finish the fan-out of every launched campaign still contacting (lost message, stopped worker)."""
    with job_run("contact_campaigns", tenant) as counts:
        counts.update(campaigns.campaigns_contact_pending())
    return counts
