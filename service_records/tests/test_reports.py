"""Service reports: generated in the background, PDF with Chinese text and the compliance figure, XLSX, archive."""

import io
from datetime import date

import pytest
import time_machine
from openpyxl import load_workbook
from pypdf import PdfReader

from accounts.models import AuditLog, JobRun
from accounts.tenancy import tenant_scope, unscoped
from crm_project.testing import assert_envelope
from customers.tests.factories import make_customer
from service_records import services
from service_records.models import ServiceReport
from service_records.tasks import generate_report, monthly_reports
from service_records.tests.factories import ingest, make_contract, ticket


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel("2026-04-02 10:00:00+08:00", tick=False):
        yield


@pytest.fixture
def customer(owner, teammate):
    customer = make_customer(owner, customer_name="杭州天穹网络科技有限公司", assigned_manager=teammate)
    make_contract(owner, customer, sla={"P1": (60, 240)})
    ingest(owner.tenant, [
        ticket(customer, external_id="R1", satisfaction={"overall": 5, "response_speed": 4}),
        ticket(customer, external_id="R2", resolved_at="2026-03-02 15:00:00", category="database",
               satisfaction={"overall": 2, "response_speed": 2, "resolution_quality": 1}),
        ticket(customer, external_id="R3", opened_at="2026-03-10 09:00:00", first_response_at="2026-03-10 09:20:00",
               resolved_at="2026-03-10 10:00:00"),
        ticket(customer, external_id="R4", status="open", first_response_at=None, resolved_at=None,
               opened_at="2026-03-31 09:00:00", title="数据库主从延迟"),
    ])  # fmt: skip
    return customer


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_on_demand_report_is_generated_in_the_background_and_downloaded(
    api_as, owner, customer, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(services, "enqueue_report", lambda report: queued.append(report.pk))
    client = api_as(owner)
    with django_capture_on_commit_callbacks(execute=True):
        data = assert_envelope(
            client.post(f"/api/v1/customers/{customer.pk}/reports",
                        {"period_start": "2026-03-01", "period_end": "2026-03-31"}, format="json"),
            202,
        )  # fmt: skip
    assert data["status"] == "pending" and queued == [data["report_id"]]
    file_url = f"/api/v1/customers/{customer.pk}/reports/{data['report_id']}/file"
    assert_envelope(client.get(file_url), 404)

    counts = generate_report.apply(args=[owner.tenant.pk, data["report_id"]]).get()
    assert counts["reports"] == 1
    status = assert_envelope(client.get(f"/api/v1/customers/{customer.pk}/reports/{data['report_id']}"), 200)
    assert status["status"] == "done" and status["progress"] == 100 and status["has_pdf"] and status["has_xlsx"]

    response = client.get(file_url)
    assert response.status_code == 200, response.content and response["Content-Type"] == "application/pdf"
    text = pdf_text(b"".join(response.streaming_content))
    assert "杭州天穹网络科技有限公司" in text
    # 3 judged resolution targets (R4 is open and not yet due... it is: opened 03-31 09:00 + 4 h), R2 missed.
    with tenant_scope(owner.tenant):
        stats = services.ServiceRecord.objects.filter(customer=customer)
        assert stats.filter(resolution_breached=True).count() == 2
    assert "50.0%" in text  # resolution compliance: 2 met of 4 judged
    assert "数据库主从延迟" in text

    xlsx = client.get(file_url + "?type=xlsx")
    book = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))
    summary = {row[0]: row[1] for row in book.worksheets[0].iter_rows(values_only=True)}
    assert "杭州天穹网络科技有限公司" in summary.values()
    assert 50.0 in summary.values()
    assert_envelope(client.get(file_url + "?type=doc"), 400)
    with tenant_scope(owner.tenant):
        assert AuditLog.objects.filter(action="crm.service_report.generated").count() == 1


def test_monthly_job_queues_one_report_per_customer_and_period(owner, customer, monkeypatch):
    queued = []
    monkeypatch.setattr(services, "enqueue_report", lambda report: queued.append(report.pk))
    first = monthly_reports.apply(args=[owner.tenant.pk]).get()
    second = monthly_reports.apply(args=[owner.tenant.pk]).get()
    assert first["queued"] == 1 and second["queued"] == 0
    with tenant_scope(owner.tenant):
        report = ServiceReport.objects.get()
    assert (report.kind, str(report.period_start), str(report.period_end)) == ("monthly", "2026-03-01", "2026-03-31")
    assert report.schedule_key == "monthly:2026-03-01"
    with unscoped("test"):
        assert JobRun.objects.filter(job_name="service_records.monthly_reports").count() == 2


def test_quarter_bounds():
    assert services.period_bounds("quarterly", date(2026, 4, 2)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert services.period_bounds("quarterly", date(2026, 1, 1)) == (date(2025, 10, 1), date(2025, 12, 31))
    assert services.period_bounds("monthly", date(2026, 1, 15)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_a_failing_render_marks_the_report_failed(owner, customer, monkeypatch):
    from service_records import reports

    monkeypatch.setattr(services, "enqueue_report", lambda report: None)
    with tenant_scope(owner.tenant):
        report = services.report_request(
            actor=owner, customer=customer, period_start=date(2026, 3, 1), period_end=date(2026, 3, 31)
        )

    def boom(context):
        raise RuntimeError("layout exploded")

    monkeypatch.setattr(reports, "render_pdf", boom)
    with pytest.raises(RuntimeError):
        generate_report.apply(args=[owner.tenant.pk, report.pk]).get()
    with tenant_scope(owner.tenant):
        report.refresh_from_db()
    assert report.status == "failed" and "layout exploded" in report.error
