"""Service-record jobs, one task per tenant (fanned out by the job registry, see apps.py)."""

from celery import shared_task
from django.utils import timezone

from accounts.services import job_run
from crm_project.tasks import TenantTask
from service_records import services
from service_records.choices import ReportKind


@shared_task(base=TenantTask, name="service_records.tasks.scan_sla")
def scan_sla(tenant) -> dict:
    """Every 5 minutes: mark open tickets past (or within 30 minutes of) their SLA, notify managers once."""
    with job_run("service_records.scan_sla", tenant) as counts:
        counts.update(services.sla_scan(now=timezone.now()))
    return counts


@shared_task(base=TenantTask, name="service_records.tasks.rebuild_rollups")
def rebuild_rollups(tenant) -> dict:
    """Nightly: recompute the tenant-wide rollups from the tickets, month by month (idempotent; the ticket
    writes keep them exact in between, this repairs anything written around the services)."""
    from service_records import rollup

    with job_run("service_records.rebuild_rollups", tenant) as counts:
        counts.update(rollup.rebuild())
    return counts


@shared_task(base=TenantTask, name="service_records.tasks.monthly_reports")
def monthly_reports(tenant) -> dict:
    """On the 1st: last month's report for every customer with tickets (once per customer and month)."""
    with job_run("service_records.monthly_reports", tenant) as counts:
        counts.update(services.reports_schedule(kind=ReportKind.MONTHLY, today=timezone.localdate()))
    return counts


@shared_task(base=TenantTask, name="service_records.tasks.quarterly_reports")
def quarterly_reports(tenant) -> dict:
    """On the 1st of a quarter: last quarter's report for every customer with tickets."""
    with job_run("service_records.quarterly_reports", tenant) as counts:
        counts.update(services.reports_schedule(kind=ReportKind.QUARTERLY, today=timezone.localdate()))
    return counts


@shared_task(base=TenantTask, name="service_records.tasks.generate_report")
def generate_report(tenant, report_id: int) -> dict:
    """Render one queued report (PDF + XLSX) into the customer's archive."""
    from service_records import reports
    from service_records.models import ServiceReport

    report = ServiceReport.objects.select_related("customer", "requested_by").filter(pk=report_id).first()
    if report is None:
        return {"skipped": "report missing"}
    with job_run("service_records.generate_report", tenant) as counts:
        reports.generate(report)
        counts["reports"] = 1
    return counts
