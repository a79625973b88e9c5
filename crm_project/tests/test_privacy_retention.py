"""Retention policies: per data class, tenant settings over defaults, dry run report, idempotent purge job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuditLog, JobRun
from accounts.tenancy import tenant_scope
from communications.models import Communication
from communications.tests.factories import make_communication
from customers.tests.factories import make_customer
from privacy import services, tasks
from privacy.models import RetentionPolicy
from service_records.models import ServiceRecord
from service_records.tests.factories import ingest, ticket

pytestmark = pytest.mark.django_db

YEARS_AGO = timezone.now() - timedelta(days=6 * 365)


@pytest.fixture
def data(owner, outsider):
    customer = make_customer(owner, customer_name="Old Co")
    old = make_communication(owner, customer, communication_date=YEARS_AGO)
    new = make_communication(owner, customer)
    other = make_customer(outsider, customer_name="Elsewhere")
    elsewhere = make_communication(outsider, other, communication_date=YEARS_AGO)
    long_ago = YEARS_AGO.strftime("%Y-%m-%d %H:%M:%S")
    ingest(owner.tenant, [ticket(customer, opened_at=long_ago, first_response_at=long_ago, resolved_at=long_ago,
                                 closed_at=long_ago, status="closed"),
                          ticket(customer, opened_at=long_ago, first_response_at=long_ago, resolved_at=None,
                                 status="open")])  # fmt: skip
    with tenant_scope(owner.tenant):
        AuditLog.objects.create(action="crm.test.old", created_at=YEARS_AGO, object_repr="old entry")
    return {"old": old, "new": new, "elsewhere": elsewhere}


def _by_class(report):
    return {line["data_class"]: line for line in report}


def test_dry_run_reports_counts_and_oldest_date_and_removes_nothing(owner, data):
    report = _by_class(services.retention_purge(owner.tenant, dry_run=True))
    assert report["communications"]["count"] == 1
    assert report["communications"]["oldest"][:10] == YEARS_AGO.isoformat()[:10]
    assert report["service_records"]["count"] == 1  # the open ticket is never purged
    assert report["audit"]["count"] == 1 and report["communications"]["retention_days"] == 5 * 365
    with tenant_scope(owner.tenant):
        assert Communication.objects.count() == 2 and ServiceRecord.objects.count() == 2


def test_purge_removes_only_expired_rows_of_the_tenant_and_a_rerun_removes_nothing(owner, outsider, data):
    report = _by_class(services.retention_purge(owner.tenant))
    assert (report["communications"]["purged"], report["audit"]["purged"]) == (1, 1)
    assert report["service_records"]["purged"] >= 1
    with tenant_scope(owner.tenant):
        assert list(Communication.objects.values_list("pk", flat=True)) == [data["new"].pk]
        assert ServiceRecord.objects.filter(closed_at__isnull=True).count() == 1
        assert not AuditLog.objects.filter(action="crm.test.old").exists()
        assert AuditLog.objects.filter(action="privacy.retention.purged").count() == 1
    with tenant_scope(outsider.tenant):
        assert Communication.objects.filter(pk=data["elsewhere"].pk).exists()
    again = _by_class(services.retention_purge(owner.tenant))
    assert all(line["purged"] == 0 and line["count"] == 0 for line in again.values())


def test_a_tenant_policy_overrides_the_default(owner, data):
    with tenant_scope(owner.tenant):
        RetentionPolicy.objects.create(data_class="communications", retention_days=10 * 365)
    report = _by_class(services.retention_report(owner.tenant))
    assert report["communications"]["retention_days"] == 10 * 365 and report["communications"]["count"] == 0


def test_the_scheduled_job_and_the_dry_run_command(owner, data, capsys):
    call_command("purge_retention", "--dry-run", "--tenant", str(owner.tenant.pk))
    assert "communications: keep 1825 days, 1 expired" in capsys.readouterr().out
    counts = tasks.retention_purge(owner.tenant.pk)
    assert counts["communications"] == 1
    with tenant_scope(owner.tenant):
        assert JobRun.objects.filter(job_name="retention_purge", status="succeeded").count() == 1


def test_retention_page_shows_the_dry_run_and_saves_a_policy(owner, data, staff_client_as, make_user):
    client = staff_client_as(owner)
    page = client.get("/privacy/retention/").content.decode()
    assert "Communications" in page and "1825" in page
    assert client.post("/privacy/retention/", {"data_class": "audit", "retention_days": "400"}).status_code == 302
    with tenant_scope(owner.tenant):
        assert RetentionPolicy.objects.get(data_class="audit").retention_days == 400
        assert AuditLog.objects.filter(action="privacy.retention.changed").exists()
    assert staff_client_as(make_user("csm", username="c1")).get("/privacy/retention/").status_code == 403
