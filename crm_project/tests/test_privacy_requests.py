"""Data-subject requests: export, erasure (nothing left anywhere), correction; API rules; the staff page."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.utils import timezone

from accounts.models import AuditLog
from accounts.services import notify
from accounts.tenancy import tenant_scope
from crm_project import crypto
from crm_project.testing import assert_envelope
from customers.models import CustomerContact
from customers.tests.factories import make_contact, make_customer
from privacy import services
from privacy.models import DataSubjectRequest, RequestStatus

pytestmark = pytest.mark.django_db

NAME, MOBILE, PHONE = "Qiao Erasable", "13912345678", "0755-87654321"
EMAIL, WECHAT = "qiao.erase@abc-tech.com", "qiao_wx_erase"
NEEDLES = (NAME, MOBILE, PHONE, EMAIL, WECHAT)
URL = "/api/v1/privacy/requests"


@pytest.fixture
def world(owner):
    """A contact whose details spread over many tables, and a second contact that must stay untouched."""
    from communications.tests.factories import make_communication
    from contracts.tests.factories import ContractFactory
    from health.models import UsageEvent
    from portal import services as portal_services
    from service_records import services as sr_services

    customer = make_customer(owner, customer_name="Spread Co", description=f"Key person: {NAME} ({MOBILE})")
    contact = make_contact(
        owner, customer, contact_name=NAME, mobile=MOBILE, phone=PHONE, email=EMAIL, wechat=WECHAT, is_primary=True
    )
    keeper = make_contact(owner, customer, contact_name="Keep Person", mobile="13700000001", email="keep@abc.example")
    with tenant_scope(owner.tenant):
        make_communication(
            owner,
            customer,
            contact=contact,
            subject=f"Call with {NAME}",
            content=f"{NAME} asked us to call {MOBILE} or write to {EMAIL}; WeChat {WECHAT}.",
        )
        sr_services.nps_record(
            actor=owner,
            customer=customer,
            contact=contact,
            score=9,
            reason=f"Answered by {EMAIL}",
            responded_at=timezone.now(),
        )
        portal_services.account_invite(actor=owner, customer=customer, email=EMAIL, send=False)
        UsageEvent.objects.create(
            customer=customer, event_id="ev-1", user_identifier=EMAIL, event_type="login", occurred_at=timezone.now()
        )
        ContractFactory(customer=customer, document_html=f"<p>Contact: {NAME}, {PHONE}, {EMAIL}</p>")
        notify(owner, "test", customer, f"Remember {NAME} ({MOBILE})", email=False)
    LogEntry.objects.create(
        user_id=owner.pk,
        content_type=ContentType.objects.get_for_model(CustomerContact),
        object_id=str(contact.pk),
        object_repr=NAME,
        action_flag=CHANGE,
        change_message=f"Changed {NAME}",
    )
    return {"customer": customer, "contact": contact, "keeper": keeper}


def _text_columns():
    """(table, column, is_json) for every text or JSON column of every model (the model registry)."""
    seen = set()
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if isinstance(field, (models.CharField, models.TextField, models.JSONField)):
                key = (model._meta.db_table, field.column)
                if key not in seen:
                    seen.add(key)
                    yield model._meta.db_table, field.column, isinstance(field, models.JSONField)


def _readable_forms(raw):
    forms = [str(raw)]
    if isinstance(raw, str) and crypto.is_ciphertext(raw):
        forms.append(crypto.decrypt(raw))
    with contextlib.suppress(TypeError, ValueError):
        forms.append(json.dumps(json.loads(raw), ensure_ascii=False))
    return forms


def _tables_holding(values) -> list[tuple[str, str, str]]:
    qn = connection.ops.quote_name
    hits = []
    with connection.cursor() as cursor:
        for table, column, _is_json in _text_columns():
            cursor.execute(f"SELECT {qn(column)} FROM {qn(table)} WHERE {qn(column)} IS NOT NULL")
            for (raw,) in cursor.fetchall():
                for form in _readable_forms(raw):
                    for value in values:
                        if value.lower() in form.lower():
                            hits.append((table, column, value))
    return hits


def test_erasure_leaves_no_table_holding_the_contact_and_keeps_the_request(owner, world, api_as):
    before = {(table, value) for table, _column, value in _tables_holding(NEEDLES)}
    # The seed really spread the values (otherwise the scan below proves nothing).
    for table in (
        "customer_contacts",
        "audit_logs",
        "customer_communications",
        "customer_nps_responses",
        "portal_accounts",
        "customer_usage_events",
        "customer_contracts",
        "notifications",
        "django_admin_log",
        "customers",
    ):
        assert any(t == table for t, _v in before), table
    export = assert_envelope(
        api_as(owner).post(
            URL, {"kind": "export", "contact_id": world["contact"].pk, "reason": "GDPR 15"}, format="json"
        ),
        201,
    )
    response = api_as(owner).post(
        URL, {"kind": "erasure", "contact_id": world["contact"].pk, "reason": f"{NAME} asked for it"}, format="json"
    )
    data = assert_envelope(response, 201)
    assert data["status"] == "done" and data["request_id"]
    assert data["result_summary"]["export_packages_removed"] == 1

    assert _tables_holding(NEEDLES) == []
    # Only the erased contact went: the other contact and the customer are still there.
    assert {t for t, _c, _v in _tables_holding(["Keep Person", "Spread Co"])} >= {"customer_contacts", "customers"}
    with tenant_scope(owner.tenant):
        kept = DataSubjectRequest.objects.get(pk=data["request_id"])
        assert kept.status == RequestStatus.DONE and kept.contact_id == world["contact"].pk
        actions = set(AuditLog.objects.filter(action__startswith="privacy.").values_list("action", flat=True))
        assert CustomerContact.objects.get(pk=world["contact"].pk).contact_name == "[erased]"
    assert {"privacy.request.created", "privacy.export.completed", "privacy.erasure.completed"} <= actions
    # The package built before the erasure is gone too.
    assert api_as(owner).get(f"{URL}/{export['request_id']}/package").status_code == 404


def test_export_packages_everything_as_json_and_csv_and_the_download_is_audited(owner, world, api_as):
    data = assert_envelope(
        api_as(owner).post(URL, {"kind": "export", "contact_id": world["contact"].pk}, format="json"), 201
    )
    assert data["status"] == "done" and data["download_available"]
    response = api_as(owner).get(f"{URL}/{data['request_id']}/package")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"data.json", "customers.contact.csv", "communications.communication.csv", "portal.account.csv"} <= names
    sources = json.loads(archive.read("data.json"))["sources"]
    assert sources["customers.contact"][0]["email"] == EMAIL and sources["customers.contact"][0]["mobile"] == MOBILE
    assert "Keep Person" not in archive.read("data.json").decode()
    assert EMAIL in archive.read("portal.account.csv").decode("utf-8-sig")
    # Stored encrypted on disk.
    with tenant_scope(owner.tenant):
        dsr = DataSubjectRequest.objects.get(pk=data["request_id"])
        raw = (services.package_dir(dsr.tenant_id) / dsr.package_name).read_bytes()
        assert b"PK" not in raw[:4] and EMAIL.encode() not in raw
        assert AuditLog.objects.filter(action="privacy.export.downloaded", object_id=str(dsr.pk)).count() == 1


def test_correction_changes_the_contact_and_records_only_field_names(owner, world, api_as):
    data = assert_envelope(
        api_as(owner).post(
            URL,
            {"kind": "correction", "contact_id": world["contact"].pk, "changes": {"mobile": "13911112222"}},
            format="json",
        ),
        201,
    )
    assert data["result_summary"] == {"fields": ["mobile"]}
    with tenant_scope(owner.tenant):
        assert CustomerContact.objects.get(pk=world["contact"].pk).mobile == "13911112222"
    bad = api_as(owner).post(
        URL,
        {"kind": "correction", "contact_id": world["contact"].pk, "changes": {"mobile": "not a number"}},
        format="json",
    )
    assert bad.status_code == 400


def test_only_tenant_admins_and_only_their_own_tenant(owner, teammate, outsider, api_as):
    customer = make_customer(owner, customer_name="Guarded Co")
    contact = make_contact(owner, customer, contact_name="Guarded", email="g@guarded.example")
    body = {"kind": "erasure", "contact_id": contact.pk}
    assert_envelope(api_as(teammate).post(URL, body, format="json"), 403)
    assert_envelope(api_as(outsider).post(URL, body, format="json"), 404)
    assert_envelope(api_as(owner).post(URL, {"kind": "erasure", "contact_id": 10**9}, format="json"), 404)
    assert_envelope(api_as(owner).post(URL, {"kind": "nonsense", "contact_id": contact.pk}, format="json"), 400)
    with tenant_scope(owner.tenant):
        assert CustomerContact.objects.get(pk=contact.pk).email == "g@guarded.example"
    assert_envelope(api_as(teammate).get(URL), 403)


def test_staff_page_lists_requests_with_deadline_and_carries_out_a_new_one(
    owner, world, staff_client_as, django_assert_max_num_queries
):
    client = staff_client_as(owner)
    response = client.post("/privacy/requests/", {"kind": "export", "contact_id": world["contact"].pk, "reason": "x"})
    assert response.status_code == 302
    with tenant_scope(owner.tenant):
        dsr = DataSubjectRequest.objects.get()
    with django_assert_max_num_queries(12):
        page = client.get("/privacy/requests/").content.decode()
    assert dsr.deadline.isoformat() in page and "Done" in page
    assert (dsr.deadline - timezone.localtime(dsr.created_at).date()).days == 15
    assert client.get(f"/privacy/requests/{dsr.pk}/package/")["Content-Type"] == "application/zip"
    refused = client.post("/privacy/requests/", {"kind": "erasure", "contact_id": world["contact"].pk})
    assert refused.status_code == 200 and b"Confirm the erasure" in refused.content


def test_request_list_api_pages_within_a_query_budget(owner, world, api_as, django_assert_max_num_queries):
    with tenant_scope(owner.tenant):
        for _ in range(3):
            services.request_create(actor=owner, kind="export", contact=world["contact"])
    client = api_as(owner)
    with django_assert_max_num_queries(8):
        data = assert_envelope(client.get(f"{URL}?page=1&size=2"), 200)
    assert data["total"] == 3 and len(data["items"]) == 2 and data["items"][0]["kind"] == "export"


def test_staff_page_correction_sets_the_new_values(owner, world, staff_client_as):
    client = staff_client_as(owner)
    contact = world["contact"]
    missing = client.post("/privacy/requests/", {"kind": "correction", "contact_id": contact.pk})
    assert missing.status_code == 200 and b"Name at least one field to correct" in missing.content
    invalid = client.post("/privacy/requests/", {"kind": "correction", "contact_id": contact.pk, "mobile": "12"})
    # Refused by the contact rules: the page says why, nothing is recorded.
    assert invalid.status_code == 200 and b"valid mobile number" in invalid.content
    with tenant_scope(owner.tenant):
        assert not DataSubjectRequest.objects.exists()
        assert CustomerContact.objects.get(pk=contact.pk).mobile == MOBILE
    done = client.post(
        "/privacy/requests/", {"kind": "correction", "contact_id": contact.pk, "email": "new@abc.example"}
    )
    assert done.status_code == 302
    with tenant_scope(owner.tenant):
        assert CustomerContact.objects.get(pk=contact.pk).email == "new@abc.example"
        assert DataSubjectRequest.objects.get().result_summary == {"fields": ["email"]}


def test_browser_requests_ask_for_a_fresh_second_factor_and_tokens_do_not(owner, world, staff_client_as, api_as):
    """Data-subject actions are sensitive (PRD 7.1): a session without a recent code is sent to the step-up prompt."""
    import time

    import pyotp

    from accounts import totp
    from crm_project.api import codes

    secret = totp.new_secret()
    assert totp.enroll(owner, secret, pyotp.TOTP(secret).at(time.time() - 30)) is not None
    client = staff_client_as(owner)  # signed in earlier: no code entered in this session's window
    page = client.post("/privacy/requests/", {"kind": "export", "contact_id": world["contact"].pk, "reason": "x"})
    assert page.status_code == 302 and page["Location"].startswith("/accounts/step-up/")
    api = client.post(URL, {"kind": "export", "contact_id": world["contact"].pk}, content_type="application/json")
    assert api.status_code == 403 and api.json()["code"] == codes.STEP_UP_REQUIRED
    with tenant_scope(owner.tenant):
        assert not DataSubjectRequest.objects.exists()
    # A JWT client is a service client: its token is the credential, no prompt.
    assert_envelope(api_as(owner).post(URL, {"kind": "export", "contact_id": world["contact"].pk}, format="json"), 201)
