"""The compliance report (PRD 7.4): per period, access to sensitive data, exports, data-subject requests and admin
actions, counted from the audit log by action prefix; a page for tenant admins and a CSV / XLSX export (audited)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditLog
from accounts.tenancy import unscoped
from crm_project.audit import EXPORT_PREFIX, compliance_category
from crm_project.testing import query_budget

pytestmark = pytest.mark.django_db

IN_PERIOD = [
    "crm.access.customer_viewed",
    "crm.access.customer_viewed",
    "crm.contact.unmasked",  # the masking engineer's unmasking action: counted by the word "unmask"
    "crm.customer.exported",
    EXPORT_PREFIX + "contracts",
    "privacy.request.created",  # the privacy app's actions: counted by the prefix, no import of that app
    "privacy.erasure.completed",
    "crm.user.created",
    "crm.user.role_changed",
    "crm.health.settings_changed",
    "crm.customer.updated",  # an ordinary change: in no category
]


def _at(day: int, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime(2026, 3, day, hour, 0))


def _log(tenant, action, when, actor_name="owner", **fields):
    with unscoped("test writes audit rows of several tenants"):
        return AuditLog.objects.create(tenant=tenant, action=action, actor_name=actor_name, created_at=when,
                                       ip_address="192.0.2.1", user_agent="Browser", **fields)  # fmt: skip


@pytest.fixture
def history(tenant, other_tenant):
    for index, action in enumerate(IN_PERIOD):
        _log(tenant, action, _at(2 + index % 20), actor_name="alice" if index % 2 else "bob")
    _log(tenant, "crm.access.customer_viewed", _at(1, 0) - timezone.timedelta(minutes=1))  # the day before
    _log(tenant, "privacy.request.created", _at(31, 23))  # the last day of the period counts
    _log(tenant, "crm.user.created", _at(1) + timezone.timedelta(days=31))  # April: outside
    _log(other_tenant, "privacy.request.created", _at(5))  # another tenant's: never counted


@pytest.fixture
def admin_client(owner):
    client = Client()
    client.force_login(owner)
    client.cookies["django_language"] = "en"
    return client


PERIOD = "date_from=2026-03-01&date_to=2026-03-31"


def test_categories_match_by_prefix_suffix_and_word():
    assert [getattr(compliance_category(action), "key", None) for action in IN_PERIOD] == [
        "sensitive_access", "sensitive_access", "sensitive_access", "exports", "exports", "data_subject",
        "data_subject", "admin", "admin", "admin", None]  # fmt: skip


def test_the_page_counts_each_category_in_the_period(history, admin_client):
    with query_budget(12):
        response = admin_client.get(f"/accounts/compliance/?{PERIOD}")
    assert response.status_code == 200
    totals = {item["key"]: item["total"] for item in response.context["summary"]}
    assert totals == {"sensitive_access": 3, "exports": 2, "data_subject": 3, "admin": 3}
    body = response.content.decode()
    assert "Access to sensitive data" in body and "Data-subject requests" in body
    assert "privacy.erasure.completed" in body and "crm.customer.updated" not in body
    assert "From 2026-03-01 to 2026-03-31: 11 audited actions" in body


def test_the_default_period_is_the_current_month(history, admin_client):
    response = admin_client.get("/accounts/compliance/")
    assert response.status_code == 200
    start, end = response.context["period"]
    assert (start.day, end) == (1, timezone.localdate())


@pytest.mark.parametrize(
    "query",
    ["date_from=2026-03-31&date_to=2026-03-01", "date_from=2024-01-01&date_to=2026-03-01", "date_from=x&date_to=",
     "date_from=2026-13-45&date_to=2026-03-01&format=csv"],
)  # fmt: skip
def test_a_bad_period_is_refused_with_the_reason_and_exports_nothing(history, admin_client, query):
    response = admin_client.get(f"/accounts/compliance/?{query}")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert response.context["filter_form"].errors


def test_the_csv_export_lists_the_entries_and_is_itself_audited(history, admin_client, owner):
    response = admin_client.get(f"/accounts/compliance/?{PERIOD}&format=csv", REMOTE_ADDR="198.51.100.20")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    header, entries = rows[0], rows[1:]
    assert header[:3] == ["Time", "Category", "Action"]
    assert sorted(row[2] for row in entries) == sorted([a for a in IN_PERIOD if a != "crm.customer.updated"]
                                                       + ["privacy.request.created"])  # fmt: skip
    assert entries[0][0].startswith("2026-03-02") and entries[-1][0].startswith("2026-03-31")
    with unscoped("test"):
        export = AuditLog.objects.filter(action=EXPORT_PREFIX + "compliance_report").get()
    assert (export.actor_id, export.tenant_id, export.ip_address) == (owner.pk, owner.tenant_id, "198.51.100.20")
    assert export.changes["period"]["new"] == "2026-03-01..2026-03-31"
    assert export.changes["format"]["new"] == "csv"


def test_the_xlsx_export_opens_in_a_spreadsheet(history, admin_client):
    from openpyxl import load_workbook

    response = admin_client.get(f"/accounts/compliance/?{PERIOD}&format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.values)
    assert len(values) == 1 + 11
    assert isinstance(values[1][0], datetime) and values[1][1] == "Access to sensitive data"


@pytest.mark.parametrize("role", ["cs_lead", "csm", "finance", "viewer"])
def test_only_tenant_admins_see_the_report(history, make_user, role):
    client = Client()
    client.force_login(make_user(role=role, username=f"compliance_{role}"))
    for query in ("", f"?{PERIOD}&format=csv"):
        assert client.get(f"/accounts/compliance/{query}").status_code == 403
    with unscoped("test"):
        assert not AuditLog.objects.filter(action=EXPORT_PREFIX + "compliance_report").exists()
