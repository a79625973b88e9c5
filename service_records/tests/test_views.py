"""Staff pages: the Service tab, the ticket page, entry/import/rating, the quality page, isolation on every
route (resolver-driven), roles with their side effects, merges and the timeline."""

import pytest
import time_machine
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from crm_project.testing import assert_api_not_found, assert_page_not_found, query_budget
from customers.tests.factories import make_customer
from service_records.models import NpsResponse, ServiceRecord, ServiceReport
from service_records.tests.factories import ingest, make_contract, records, ticket

NOW = "2026-03-20 12:00:00+08:00"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    from service_records import services

    monkeypatch.setattr(services, "enqueue_report", lambda report: None)


@pytest.fixture
def customer(owner, teammate):
    customer = make_customer(owner, customer_name="北京云启科技有限公司", assigned_manager=teammate)
    make_contract(owner, customer, sla={"P1": (60, 240)})
    ingest(owner.tenant, [
        ticket(customer, external_id="V1", satisfaction={"overall": 3, "response_speed": 2}),
        ticket(customer, external_id="V2", resolved_at="2026-03-02 15:00:00", category="database"),
    ])  # fmt: skip
    return customer


def body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_service_tab_shows_cards_tickets_charts_and_suggestions(staff_client_as, owner, customer):
    page = body(staff_client_as(owner).get(f"/customers/{customer.pk}/?tab=service"))
    assert 'data-testid="sla-cards"' in page and "V1" in page and "V2" in page
    assert 'id="sr-chart-satisfaction"' in page and 'data-chart="sr-chart-nps"' in page
    assert '"value": 4.5' in page and '"value": 50' in page  # the PRD targets are drawn
    assert "Weakest dimension: Response speed" in page and "average 2.00 of 5 over 1 rated tickets" in page
    assert "Frequent complaints: database" in page
    assert "<script>" not in page and 'style="' not in page.split('data-testid="customer-service"')[1]


def test_service_tab_filters_and_htmx_partial(staff_client_as, owner, customer):
    client = staff_client_as(owner)
    page = body(client.get(f"/customers/{customer.pk}/?tab=service&breached=true", HTTP_HX_REQUEST="true",
                           HTTP_HX_TARGET="customer-tabs"))  # fmt: skip
    assert "V2" in page and ">V1<" not in page and "<html" not in page


def test_service_tab_query_budget(staff_client_as, owner, customer):
    client = staff_client_as(owner)
    client.get(f"/customers/{customer.pk}/?tab=service")
    with query_budget(40) as before:
        client.get(f"/customers/{customer.pk}/?tab=service")
    ingest(owner.tenant, [ticket(customer, external_id=f"B{n}") for n in range(25)])
    with query_budget(len(before.captured_queries)):
        client.get(f"/customers/{customer.pk}/?tab=service")


def test_quality_page_lists_breaches_and_has_a_budget(staff_client_as, owner, customer):
    client = staff_client_as(owner)
    with query_budget(30):
        page = body(client.get("/service/?period=3m"))
    assert "北京云启科技有限公司" in page and 'data-testid="worst-breaches"' in page and "V2" in page
    assert 'id="q-chart-distribution"' in page and "js/charts.js" in page
    assert "Service quality" in body(client.get("/"))  # the nav item


def test_manual_entry_rating_and_edit_through_the_pages(staff_client_as, teammate, customer):
    client = staff_client_as(teammate)
    response = client.post(f"/service/customers/{customer.pk}/new/", {
        "title": "VPN 无法连接", "priority": "P1", "status": "open", "opened_at": "2026-03-20T09:00",
    })  # fmt: skip
    (record,) = records(customer.tenant, source_system="manual")
    assert response.status_code == 302 and record.sla_resolution_minutes == 240 and record.title == "VPN 无法连接"
    client.post(
        f"/service/records/{record.pk}/rate/", {"satisfaction_overall": "5", "satisfaction_professionalism": "4"}
    )
    edit = {"status": "resolved", "first_response_at": "2026-03-20T09:10", "resolved_at": "2026-03-20T10:00",
            "solution": "重置证书"}  # fmt: skip
    client.post(f"/service/records/{record.pk}/edit/", edit)
    (record,) = records(customer.tenant, source_system="manual")
    assert record.satisfaction_overall == 5 and record.status == "resolved" and record.resolution_minutes == 60
    page = body(client.get(f"/service/records/{record.pk}/"))
    assert "重置证书" in page
    with tenant_scope(customer.tenant):
        actions = set(AuditLog.objects.filter(object_id=str(record.pk)).values_list("action", flat=True))
    assert actions == {"crm.service_record.created", "crm.service_record.rated", "crm.service_record.updated"}


def test_csv_import_upserts_and_reports_bad_rows(staff_client_as, owner, customer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv_text = (
        "external_id,title,priority,status,opened_at,resolved_at,category,satisfaction_overall\n"
        "C-1,硬盘告警,P1,resolved,2026-03-05 10:00:00,2026-03-05 11:00:00,storage,4\n"
        "C-2,坏行,P7,open,2026-03-05 10:00:00,,storage,\n"
        "C-1,硬盘告警(更新),P1,resolved,2026-03-05 10:00:00,2026-03-05 11:00:00,storage,5\n"
    )
    client = staff_client_as(owner)
    upload = SimpleUploadedFile("t.csv", csv_text.encode("utf-8-sig"), content_type="text/csv")
    response = client.post(f"/service/customers/{customer.pk}/import/", {"file": upload}, follow=True)
    page = response.content.decode()
    assert "1 created, 0 updated, 2 failed" in page and "Row 3 (priority)" in page
    (row,) = records(customer.tenant, source_system="csv")
    assert row.title == "硬盘告警" and row.satisfaction_overall == 4 and row.sla_resolution_minutes == 240


def test_nps_entry_on_the_tab(staff_client_as, owner, customer):
    staff_client_as(owner).post(f"/service/customers/{customer.pk}/nps/", {"score": "9", "reason": "响应及时"})
    with tenant_scope(customer.tenant):
        assert NpsResponse.objects.get().score == 9


@pytest.mark.parametrize("role", ["viewer", "finance"])
def test_read_only_roles_see_the_tab_but_cannot_write(staff_client_as, make_user, customer, role):
    user = make_user(role=role)
    client = staff_client_as(user)
    page = body(client.get(f"/customers/{customer.pk}/?tab=service"))
    assert 'data-testid="generate-report"' not in page and 'data-testid="new-record"' not in page
    (v1,) = records(customer.tenant, external_id="V1")
    assert client.post(f"/service/records/{v1.pk}/rate/", {"satisfaction_overall": "1"}).status_code == 403
    assert client.post(f"/service/records/{v1.pk}/edit/", {"status": "closed"}).status_code == 403
    assert client.post(f"/service/customers/{customer.pk}/new/", {"title": "x"}).status_code == 403
    assert client.post(f"/service/customers/{customer.pk}/nps/", {"score": "1"}).status_code == 403
    assert client.post(f"/service/customers/{customer.pk}/reports/new/", {}).status_code == 403
    (v1,) = records(customer.tenant, external_id="V1")
    assert v1.satisfaction_overall == 3 and v1.status == "resolved"
    with tenant_scope(customer.tenant):
        assert ServiceRecord.objects.count() == 2 and not NpsResponse.objects.exists()
        assert not ServiceReport.objects.exists()


def test_report_generate_button_queues_and_the_archive_polls(staff_client_as, owner, customer):
    client = staff_client_as(owner)
    period = {"period_start": "2026-03-01", "period_end": "2026-03-20"}
    page = body(client.post(f"/service/customers/{customer.pk}/reports/new/", period, HTTP_HX_REQUEST="true"))
    assert 'data-polling="1"' in page and 'hx-trigger="every 2s"' in page and 'data-status="pending"' in page


# --- Isolation: every route of the app, API and pages ----------------------------------------------------------------
def _app_routes() -> set[str]:
    """Every URL pattern name of service_records (resolver-driven: a new route must join the test below)."""
    names = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + (f"{pattern.namespace}:" if pattern.namespace else ""))
            elif isinstance(pattern, URLPattern) and pattern.callback.__module__.startswith("service_records"):
                names.add(prefix + (pattern.name or ""))

    walk(get_resolver().url_patterns)
    return names


@pytest.fixture
def report(owner, customer):
    from datetime import date

    from django.core.files.base import ContentFile

    with tenant_scope(owner.tenant):
        report = ServiceReport.objects.create(customer=customer, period_start=date(2026, 3, 1),
                                              period_end=date(2026, 3, 20), status="done", progress=100)  # fmt: skip
        report.pdf_file.save("r.pdf", ContentFile(b"%PDF-1.4"), save=True)
        report.xlsx_file.save("r.xlsx", ContentFile(b"PK"), save=True)
    return report


def test_another_tenants_ids_are_404_on_every_route(api_as, staff_client_as, owner, outsider, customer, report):
    (record,) = records(owner.tenant, external_id="V1")
    contract_id = record.contract_id
    c, r, rid = customer.pk, record.pk, report.pk
    api_routes = {
        "customer_service_records": (f"/api/v1/customers/{c}/service-records", ("get", "post"), 40001),
        "service_record_detail": (f"/api/v1/service-records/{r}", ("get", "patch"), 40400),
        "customer_service_stats": (f"/api/v1/customers/{c}/service-stats", ("get",), 40001),
        "contract_service_stats": (f"/api/v1/contracts/{contract_id}/service-stats", ("get",), 40400),
        "customer_reports": (f"/api/v1/customers/{c}/reports", ("get", "post"), 40001),
        "customer_report_detail": (f"/api/v1/customers/{c}/reports/{rid}", ("get",), 40001),
        "customer_report_file": (f"/api/v1/customers/{c}/reports/{rid}/file", ("get",), 40001),
        "customer_nps": (f"/api/v1/customers/{c}/nps-responses", ("get", "post"), 40001),
    }
    pages = {
        "service_records:record_detail": (f"/service/records/{r}/", ("get",)),
        "service_records:record_edit": (f"/service/records/{r}/edit/", ("post",)),
        "service_records:record_rate": (f"/service/records/{r}/rate/", ("post",)),
        "service_records:record_create": (f"/service/customers/{c}/new/", ("post",)),
        "service_records:record_import": (f"/service/customers/{c}/import/", ("post",)),
        "service_records:nps_create": (f"/service/customers/{c}/nps/", ("post",)),
        "service_records:report_archive": (f"/service/customers/{c}/reports/", ("get",)),
        "service_records:report_generate": (f"/service/customers/{c}/reports/new/", ("post",)),
        "service_records:report_download": (f"/service/customers/{c}/reports/{rid}/pdf/", ("get",)),
    }
    # Routes without an object id: the integration endpoint (its own key decides the tenant) and tenant-wide views.
    tenant_wide = {"integration_tickets", "tenant_service_stats", "service_records:quality"}
    assert _app_routes() == set(api_routes) | set(pages) | tenant_wide
    owner_api, outsider_api = api_as(owner), api_as(outsider)
    owner_pages, outsider_pages = staff_client_as(owner), staff_client_as(outsider)
    for name, (url, methods, code) in api_routes.items():
        assert owner_api.get(url).status_code < 400, name
        assert_api_not_found(outsider_api, url, methods=methods, code=code)
    for name, (url, methods) in pages.items():
        if "get" in methods:
            assert owner_pages.get(url).status_code == 200, name
        assert_page_not_found(outsider_pages, url, methods=methods)
    # The outsider's tenant-wide views show nothing of ours.
    assert "北京云启科技有限公司" not in body(outsider_pages.get("/service/"))
    assert outsider_api.get("/api/v1/service-stats").json()["data"]["tickets"] == 0
    # A second report id of the same tenant but another customer is a 404 under this customer.
    other = make_customer(owner, customer_name="Other Co")
    assert_api_not_found(owner_api, f"/api/v1/customers/{other.pk}/reports/{rid}", code=40400)
    # Nothing was written by the outsider.
    assert len(records(owner.tenant)) == 2
    with tenant_scope(owner.tenant):
        assert ServiceReport.objects.count() == 1 and not NpsResponse.objects.exists()


def test_huge_and_odd_ids_are_404_not_500(api_as, owner):
    client = api_as(owner)
    assert_api_not_found(client, "/api/v1/service-records/99999999999999999999999", code=40400)
    assert_api_not_found(client, "/api/v1/customers/99999999999999999999999/service-stats", code=40001)


# --- Merge and timeline --------------------------------------------------------------------------------------------
def test_merge_moves_the_duplicates_records_and_nps_to_the_survivor(owner, customer, staff_client_as):
    from customers import services as customer_services
    from service_records import services

    duplicate = make_customer(owner, customer_name="Dup Co")
    ingest(owner.tenant, [ticket(duplicate, external_id="D1"), ticket(duplicate, external_id="D2")])
    with tenant_scope(owner.tenant):
        services.nps_record(actor=owner, customer=duplicate, score=8)
        moved = services.records_move_to_customer(source=duplicate, target=customer)
        assert moved == {"service_records": 2, "nps_responses": 1, "service_reports": 0}
        ServiceRecord.objects.filter(external_id__in=["D1", "D2"]).update(customer=duplicate)
        NpsResponse.objects.update(customer=duplicate)
        customer_services.customer_merge(actor=owner, survivor=customer, duplicate=duplicate)
        assert ServiceRecord.objects.filter(customer=customer).count() == 4
        assert NpsResponse.objects.get().customer_id == customer.pk
        merged = AuditLog.objects.filter(action="crm.customer.merged").latest("id")
    assert "service_records" in str(merged.changes)
    timeline = body(staff_client_as(owner).get(f"/customers/{customer.pk}/?tab=timeline"))
    assert "Ticket opened" in timeline and "SLA breached" in timeline and "Ticket rated 3/5" in timeline
