"""The ticket system feeds service records: signed, idempotent, set-based, partial failures reported."""

import pytest
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.integration import integration_key_create
from accounts.models import AuditLog, Notification
from accounts.tenancy import tenant_scope
from accounts.tests.factories import UserFactory
from crm_project.testing import assert_envelope
from customers.tests.factories import make_customer
from service_records import signals
from service_records.models import ServiceRecord
from service_records.tests.factories import make_contract, records, signed_post, ticket


@pytest.fixture
def customer(owner, teammate):
    return make_customer(owner, customer_name="北京云启科技有限公司", assigned_manager=teammate)


@pytest.fixture
def key(tenant):
    return integration_key_create(tenant=tenant, name="itsm")


def test_the_issue_example_is_stored_with_its_sla_copied_from_the_contract(client, owner, customer, key):
    contract = make_contract(owner, customer, sla={"P1": (60, 240)})
    body = ticket(
        customer, external_id="INC-1001", contract_code=contract.contract_code, title="Core switch down",
        opened_at="2026-03-02 09:00:00", first_response_at="2026-03-02 11:00:00", resolved_at="2026-03-02 15:00:00",
        satisfaction={"overall": 4, "response_speed": 2, "professionalism": 4, "resolution_quality": 4,
                      "comment": "慢"},
    )  # fmt: skip
    data = assert_envelope(signed_post(client, *key, {"tickets": [body]}), 200)
    assert data == {"created": 1, "updated": 0, "failed": []}
    (record,) = records(owner.tenant)
    assert record.contract_id == contract.pk and record.customer_id == customer.pk
    assert (record.sla_first_response_minutes, record.sla_resolution_minutes) == (60, 240)
    # 2 h to first response (target 1 h) and 6 h to resolution (target 4 h): both missed.
    assert record.response_breached and record.resolution_breached and record.breach_minutes == 120
    assert (record.response_minutes, record.resolution_minutes, record.handling_minutes) == (120, 360, 360)
    assert record.satisfaction_response_speed == 2 and record.satisfaction_comment == "慢"


def test_the_same_batch_twice_leaves_the_same_rows(client, owner, customer, key):
    make_contract(owner, customer)
    batch = {"tickets": [ticket(customer, external_id=f"INC-{n}") for n in range(5)]}
    first = assert_envelope(signed_post(client, *key, batch), 200)
    rows_before = [(r.pk, r.title, r.breached, r.sla_resolution_minutes) for r in records(owner.tenant)]
    second = assert_envelope(signed_post(client, *key, batch), 200)
    assert first == {"created": 5, "updated": 0, "failed": []}
    assert second == {"created": 0, "updated": 5, "failed": []}
    assert [(r.pk, r.title, r.breached, r.sla_resolution_minutes) for r in records(owner.tenant)] == rows_before


def test_a_partial_batch_stores_the_valid_tickets_and_names_each_failure(client, owner, customer, key, other_tenant):
    other_admin = UserFactory(tenant=other_tenant, role="tenant_admin")
    # Codes are numbered per tenant: the third customer of the other tenant has a code unknown here.
    stranger = [make_customer(other_admin, customer_name=f"Other tenant customer {n}") for n in range(3)][-1]
    batch = {
        "tickets": [
            ticket(customer, external_id="OK-1"),
            ticket(customer, external_id="BAD-1", priority="P9"),
            ticket(customer, external_id="BAD-2", opened_at="02/03/2026"),
            ticket(stranger, external_id="BAD-3"),
            "not a ticket",
            ticket(customer, external_id="BAD-4", resolved_at="2026-03-01 08:00:00"),
            ticket(customer, external_id="OK-2", satisfaction={"overall": 9}),
            ticket(customer, external_id="OK-1"),
            ticket(customer, external_id="BAD-5", title="x" * 10_000),
            ticket(customer, external_id="BAD-6", contract_code="CT-NOPE"),
        ]
    }
    data = assert_envelope(signed_post(client, *key, batch), 200)
    assert data["created"] == 1 and data["updated"] == 0
    failures = {(f["index"], f["field"]) for f in data["failed"]}
    assert failures == {
        (1, "priority"), (2, "opened_at"), (3, "customer_code"), (4, "ticket"), (5, "resolved_at"),
        (6, "satisfaction.overall"), (7, "external_id"), (8, "title"), (9, "contract_code"),
    }  # fmt: skip
    unknown = next(f for f in data["failed"] if f["index"] == 3)
    with translation.override("zh-hans"):  # the API answers in the default language
        assert unknown["message"] == str(_("Unknown customer.")) and unknown["external_id"] == "BAD-3"
    assert [r.external_id for r in records(owner.tenant)] == ["OK-1"]


def test_the_contract_in_force_on_the_opening_day_gives_the_sla(owner, customer):
    from datetime import date

    from service_records.tests.factories import ingest

    make_contract(owner, customer, start=date(2025, 1, 1), end=date(2025, 12, 31), sla={"P1": (30, 90)})
    current = make_contract(owner, customer, start=date(2026, 1, 1), end=date(2026, 12, 31), sla={"P1": (60, 240)})
    make_contract(owner, customer, start=date(2026, 1, 1), end=date(2026, 12, 31), sla={"P1": (1, 2)}, sign_it=False)
    ingest(owner.tenant, [ticket(customer, external_id="A", opened_at="2025-06-01 10:00:00",
                                 first_response_at=None, resolved_at=None, status="closed",
                                 closed_at="2025-06-01 10:10:00"),
                          ticket(customer, external_id="B")])  # fmt: skip
    a, b = records(owner.tenant)
    assert a.sla_resolution_minutes == 90 and b.contract_id == current.pk and b.sla_resolution_minutes == 240


def test_envelope_errors_are_400_and_unsigned_calls_401(client, api_as, owner, key):
    assert_envelope(signed_post(client, *key, {"tickets": []}), 400)
    assert_envelope(signed_post(client, *key, {"tickets": [{}] * 1001}), 400)
    assert_envelope(signed_post(client, *key, {"tickets": "nope"}), 400)
    assert_envelope(client.post("/api/v1/integrations/tickets", {}, content_type="application/json"), 401)
    assert_envelope(api_as(owner).post("/api/v1/integrations/tickets", {"tickets": []}, format="json"), 401)


def test_an_ingested_breach_sends_the_signal_once_and_the_batch_is_audited(client, owner, customer, key):
    make_contract(owner, customer, sla={"P1": (60, 240)})
    seen = []

    def receiver(sender, record, kind, customer, **kwargs):
        seen.append((record.external_id, kind))

    signals.sla_breached.connect(receiver, dispatch_uid="test-breach")
    try:
        late = ticket(customer, external_id="LATE", first_response_at="2026-03-02 12:00:00")
        signed_post(client, *key, {"tickets": [late]})
        signed_post(client, *key, {"tickets": [late]})
    finally:
        signals.sla_breached.disconnect(dispatch_uid="test-breach")
    assert seen == [("LATE", "response")]
    with tenant_scope(owner.tenant):
        assert AuditLog.objects.filter(action="crm.service_record.ingested").count() == 2


def test_the_scan_notifies_the_manager_once_per_ticket_and_kind(owner, teammate, customer):
    import time_machine

    from service_records import services
    from service_records.tests.factories import ingest

    make_contract(owner, customer, sla={"P1": (60, 240)})
    with time_machine.travel("2026-03-02 09:00:00+08:00", tick=False):
        ingest(owner.tenant, [ticket(customer, external_id="OPEN-1", status="open", first_response_at=None,
                                     resolved_at=None)])  # fmt: skip
    with time_machine.travel("2026-03-02 09:45:00+08:00", tick=False), tenant_scope(owner.tenant):
        first = services.sla_scan()
        again = services.sla_scan()
    assert first["notified"] == 1 and again["notified"] == 0
    with time_machine.travel("2026-03-02 10:05:00+08:00", tick=False), tenant_scope(owner.tenant):
        assert services.sla_scan()["notified"] == 1
        assert services.sla_scan()["notified"] == 0
    with tenant_scope(owner.tenant):
        kinds = sorted(Notification.objects.filter(recipient=teammate).values_list("kind", flat=True))
        record = ServiceRecord.objects.get()
    assert kinds == ["service_records.response_at_risk", "service_records.response_breached"]
    assert record.response_breached and record.sla_state == "breached"


def test_scan_task_records_its_run(owner, customer):
    from accounts.models import JobRun
    from accounts.registry import jobs
    from accounts.tenancy import unscoped
    from service_records.tasks import scan_sla

    job = jobs.get("service_records.scan_sla")
    assert job.schedule == 300 and job.per_tenant and job.task == "service_records.tasks.scan_sla"
    counts = scan_sla.apply(args=[owner.tenant.pk]).get()
    assert counts["scanned"] == 0
    with unscoped("test"):
        assert JobRun.objects.filter(job_name="service_records.scan_sla", status="succeeded").count() == 1
