"""Contracts through the API and the daily jobs: lifecycle, masking, approvals, renewals, finance integration."""

import json
import time
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core import mail

from accounts.integration import integration_key_create, sign
from accounts.models import Notification
from accounts.tenancy import tenant_scope
from contracts import services
from contracts.models import Contract, ContractVersion, Invoice, Payment, RenewalReminder
from crm_project.api import codes
from crm_project.testing import assert_api_not_found, assert_envelope
from customers import services as customer_services
from customers.models import Customer


@pytest.fixture
def lead(make_user):
    return make_user(role="cs_lead", username="lead")


@pytest.fixture
def finance(make_user):
    return make_user(role="finance", username="finance")


@pytest.fixture
def customer(owner, teammate):
    with tenant_scope(owner.tenant):
        return customer_services.customer_create(
            actor=owner, data={"customer_name": "北京云启科技有限公司", "assigned_manager": teammate}
        )


def make_contract(actor, customer, *, start=date(2026, 1, 1), end=date(2026, 12, 31), amount="120000", **extra):
    with tenant_scope(actor.tenant):
        return services.contract_create(
            actor=actor,
            customer=customer,
            data={"contract_name": "运维服务", "contract_amount": Decimal(amount), "start_date": start,
                  "end_date": end, **extra},
        )  # fmt: skip


def active_contract(actor, customer, **kwargs):
    contract = make_contract(actor, customer, **kwargs)
    with tenant_scope(actor.tenant):
        return services.contract_sign(actor=actor, contract=contract)


BODY = {
    "contract_name": "年度运维服务合同",
    "contract_amount": 360000,
    "currency": "CNY",
    "start_date": "2026-01-01",
    "end_date": "2026-12-31",
    "renewal_notice_days": 90,
}


# --- Create and rules -----------------------------------------------------------------------------------------------
def test_create_contract_for_customer(api_as, owner, customer):
    response = api_as(owner).post(f"/api/v1/customers/{customer.pk}/contracts", BODY, format="json")
    data = assert_envelope(response, status=201)
    assert data["contract_code"].startswith("CT") and len(data["contract_code"]) == 14
    assert (data["status"], data["contract_amount"], data["customer_id"]) == (1, 360000.0, customer.pk)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contract_amount": 0}, "contract_amount"),
        ({"contract_amount": -5}, "contract_amount"),
        ({"end_date": "2025-12-31"}, "end_date"),
        ({"end_date": "2026-01-01"}, "end_date"),
        ({"currency": "XYZ"}, "currency"),
    ],
)
def test_contract_rules_answer_40005_naming_the_field(api_as, owner, customer, change, field):
    body = {**BODY, "customer_id": customer.pk, **change}
    data = assert_envelope(
        api_as(owner).post("/api/v1/contracts", body, format="json"), 400, code=codes.CONTRACT_INVALID
    )
    assert data["field"] == field
    with tenant_scope(owner.tenant):
        assert not Contract.objects.exists()


def test_contract_for_an_invisible_customer_is_404(api_as, customer, outsider, make_user):
    csm = make_user(role="csm", username="other_csm")
    for user in (outsider, csm):
        response = api_as(user).post("/api/v1/contracts", {**BODY, "customer_id": customer.pk}, format="json")
        assert_envelope(response, 404, code=codes.CUSTOMER_NOT_FOUND)


# --- Lifecycle ------------------------------------------------------------------------------------------------------
def test_sign_makes_the_customer_formal_and_is_audited(api_as, owner, customer):
    contract = make_contract(owner, customer)
    data = assert_envelope(api_as(owner).post(f"/api/v1/contracts/{contract.pk}/sign", {}, format="json"), 200)
    assert data["status"] == 2 and data["signed_date"]
    with tenant_scope(owner.tenant):
        customer.refresh_from_db()
    assert customer.status == 2 and customer.next_renewal_date == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("setup", "action", "current", "requested"),
    [
        ("active", "sign", "active", "active"),
        ("draft", "terminate", "draft", "terminated"),
        ("terminated", "sign", "terminated", "active"),
        ("terminated", "terminate", "terminated", "terminated"),
    ],
)
def test_illegal_transitions_are_409_naming_both_states(api_as, owner, customer, setup, action, current, requested):
    contract = make_contract(owner, customer)
    with tenant_scope(owner.tenant):
        if setup in ("active", "terminated"):
            services.contract_sign(actor=owner, contract=contract)
        if setup == "terminated":
            services.contract_terminate(actor=owner, contract=contract, reason="客户提前终止")
    response = api_as(owner).post(f"/api/v1/contracts/{contract.pk}/{action}", {"reason": "x"}, format="json")
    data = assert_envelope(response, 409, code=codes.CONFLICT)
    assert data == {"current_status": current, "requested_status": requested}


def test_terminate_needs_a_reason(api_as, owner, customer):
    contract = active_contract(owner, customer)
    data = assert_envelope(api_as(owner).post(f"/api/v1/contracts/{contract.pk}/terminate", {}, format="json"), 400)
    assert data["field"] == "reason"


def test_only_drafts_can_be_edited_directly(api_as, owner, customer):
    contract = make_contract(owner, customer)
    url = f"/api/v1/contracts/{contract.pk}"
    assert (
        assert_envelope(api_as(owner).patch(url, {"contract_name": "新名称"}, format="json"), 200)["contract_name"]
        == "新名称"
    )
    with tenant_scope(owner.tenant):
        services.contract_sign(actor=owner, contract=contract)
    assert_envelope(api_as(owner).patch(url, {"contract_name": "再改"}, format="json"), 409)


def test_expiry_job_expires_and_customer_lapses_after_grace(owner, customer, settings):
    settings.CONTRACT_RENEWAL_GRACE_DAYS = 30
    contract = active_contract(owner, customer)
    with tenant_scope(owner.tenant):
        counts = services.contracts_expire_due(today=date(2027, 1, 1))
        contract.refresh_from_db()
        customer.refresh_from_db()
        assert contract.status == 3 and counts["expired"] == 1
        assert customer.status == 2  # still within the grace period
        assert services.contracts_expire_due(today=date(2027, 2, 5))["customers_lost"] == 1
        customer.refresh_from_db()
        assert customer.status == 3
        # A new active contract brings a lost customer back.
        active_contract(owner, customer, start=date(2027, 3, 1), end=date(2028, 2, 29))
        customer.refresh_from_db()
        assert customer.status == 2


def test_auto_renewal_creates_the_next_term_and_keeps_the_customer_formal(owner, customer):
    contract = active_contract(owner, customer, renewal_type=2)
    with tenant_scope(owner.tenant):
        services.sla_binding_set(
            actor=owner,
            contract=contract,
            priority="P1",
            data={"first_response_minutes": 15, "resolution_minutes": 240},
        )
        first = services.contracts_expire_due(today=date(2027, 1, 1))
        again = services.contracts_expire_due(today=date(2027, 1, 1))
        successor = Contract.objects.get(predecessor=contract)
        customer.refresh_from_db()
        assert successor.sla_bindings.count() == 1
    assert first["auto_renewed"] == 1 and again == {"expired": 0, "auto_renewed": 0, "customers_lost": 0}
    assert (successor.start_date, successor.end_date, successor.status) == (date(2027, 1, 1), date(2027, 12, 31), 2)
    assert customer.status == 2


# --- Renewal reminders ------------------------------------------------------------------------------------------------
def _run_reminders(owner, day):
    with time_machine.travel(day, tick=False), tenant_scope(owner.tenant):
        return services.renewal_reminders_send(today=day)


def test_renewal_reminder_is_sent_once_at_90_days(owner, customer, teammate):
    contract = active_contract(owner, customer)  # ends 2026-12-31
    assert _run_reminders(owner, date(2026, 10, 1))["reminded"] == 0  # 91 days before
    assert _run_reminders(owner, date(2026, 10, 2))["reminded"] == 1  # 90 days before
    assert _run_reminders(owner, date(2026, 10, 2))["reminded"] == 0  # the job runs twice
    assert _run_reminders(owner, date(2026, 11, 15))["reminded"] == 0  # and keeps running daily
    with tenant_scope(owner.tenant):
        notes = Notification.objects.filter(recipient=teammate, kind="contract.renewal_due")
        assert notes.count() == 1 and contract.contract_code in notes.get().message
        assert RenewalReminder.objects.filter(contract=contract).count() == 1
    assert len([m for m in mail.outbox if teammate.email in m.to]) == 1


def test_renewal_reminder_respects_a_custom_notice_period(owner, customer):
    active_contract(owner, customer, renewal_notice_days=30)
    assert _run_reminders(owner, date(2026, 11, 30))["reminded"] == 0
    assert _run_reminders(owner, date(2026, 12, 1))["reminded"] == 1


def test_reminder_after_a_crash_between_the_two_steps_completes_without_duplicates(owner, customer, teammate):
    contract = active_contract(owner, customer)
    with tenant_scope(owner.tenant):
        # The previous run created the follow-up item and died before notifying.
        RenewalReminder.objects.create(contract=contract, term_end_date=contract.end_date, manager=teammate)
    assert _run_reminders(owner, date(2026, 10, 2))["reminded"] == 1
    assert _run_reminders(owner, date(2026, 10, 3))["reminded"] == 0
    with tenant_scope(owner.tenant):
        assert Notification.objects.filter(kind="contract.renewal_due").count() == 1
        assert RenewalReminder.objects.count() == 1


def test_renewal_task_records_a_job_run(owner, customer):
    from accounts.models import JobRun
    from accounts.tenancy import unscoped
    from contracts import tasks

    active_contract(owner, customer, end=date(2026, 12, 31))
    with time_machine.travel(date(2026, 10, 15), tick=False):
        result = tasks.send_renewal_reminders.apply(args=(owner.tenant_id,)).get()
    assert result["reminded"] == 1
    with unscoped("test reads job runs"):
        assert JobRun.objects.get(job_name="send_renewal_reminders").status == "succeeded"


# --- Change requests ----------------------------------------------------------------------------------------------
def test_change_request_needs_another_approver_and_makes_a_new_version(api_as, owner, customer, lead, teammate):
    contract = active_contract(owner, customer)
    created = api_as(teammate).post(
        f"/api/v1/contracts/{contract.pk}/change-requests",
        {"changes": {"contract_amount": 150000, "end_date": "2027-06-30"}, "reason": "扩容"},
        format="json",
    )
    change = assert_envelope(created, 201)
    assert change["changes"]["contract_amount"] == {"old": "***", "new": "***"}  # a CSM sees no amounts
    with tenant_scope(owner.tenant):
        contract.refresh_from_db()
    assert contract.contract_amount == Decimal("120000")  # nothing changes before approval
    url = f"/api/v1/change-requests/{change['change_request_id']}"
    assert_envelope(api_as(teammate).post(f"{url}/approve", {}, format="json"), 403)  # no approval permission
    approved = assert_envelope(api_as(lead).post(f"{url}/approve", {"note": "ok"}, format="json"), 200)
    assert approved["status"] == "approved"
    with tenant_scope(owner.tenant):
        contract.refresh_from_db()
        assert contract.contract_amount == Decimal("150000") and contract.version == 2
        assert services.version_diff(contract, 1, 2)["end_date"] == ("2026-12-31", "2027-06-30")
        assert ContractVersion.objects.filter(contract=contract).count() == 2


def test_requester_cannot_approve_their_own_change(api_as, owner, customer, lead):
    contract = active_contract(owner, customer)
    created = api_as(lead).post(
        f"/api/v1/contracts/{contract.pk}/change-requests",
        {"changes": {"contract_name": "X"}, "reason": "r"},
        format="json",
    )
    change_id = assert_envelope(created, 201)["change_request_id"]
    assert_envelope(
        api_as(lead).post(f"/api/v1/change-requests/{change_id}/approve", {}, format="json"),
        403,
        code=codes.PERMISSION_DENIED,
    )


def test_rejected_change_is_kept_with_its_reason(api_as, owner, customer, lead):
    contract = active_contract(owner, customer)
    created = api_as(lead).post(
        f"/api/v1/contracts/{contract.pk}/change-requests",
        {"changes": {"contract_name": "X"}, "reason": "r"},
        format="json",
    )
    change_id = assert_envelope(created, 201)["change_request_id"]
    url = f"/api/v1/change-requests/{change_id}/reject"
    assert assert_envelope(api_as(owner).post(url, {}, format="json"), 400)["field"] == "note"
    assert assert_envelope(api_as(owner).post(url, {"note": "预算不足"}, format="json"), 200)["status"] == "rejected"
    listed = assert_envelope(api_as(owner).get(f"/api/v1/contracts/{contract.pk}/change-requests"), 200)
    assert listed[0]["decision_note"] == "预算不足"


def test_change_request_rules_are_checked_up_front(api_as, owner, customer, lead):
    contract = active_contract(owner, customer)
    url = f"/api/v1/contracts/{contract.pk}/change-requests"
    bad_amount = api_as(lead).post(url, {"changes": {"contract_amount": 0}, "reason": "r"}, format="json")
    assert assert_envelope(bad_amount, 400, code=codes.CONTRACT_INVALID)["field"] == "contract_amount"
    bad_field = api_as(lead).post(url, {"changes": {"status": 4}, "reason": "r"}, format="json")
    assert assert_envelope(bad_field, 400)["field"] == "status"


# --- Amount masking -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "visible"), [("tenant_admin", True), ("cs_lead", True), ("finance", True),
                                               ("csm", False), ("viewer", False)])  # fmt: skip
def test_amount_is_masked_per_role(api_as, owner, customer, make_user, role, visible):
    user = make_user(role=role, username=f"m_{role}")
    with tenant_scope(owner.tenant):
        customer.assigned_manager = user
        customer.save()
    contract = make_contract(owner, customer)
    detail = assert_envelope(api_as(user).get(f"/api/v1/contracts/{contract.pk}"), 200)
    listed = assert_envelope(api_as(user).get("/api/v1/contracts"), 200)["items"][0]
    expected = 120000.0 if visible else "***"
    assert detail["contract_amount"] == expected and listed["contract_amount"] == expected


# --- Isolation ------------------------------------------------------------------------------------------------------
def test_every_contract_route_is_isolated(api_as, owner, customer, outsider, make_user, lead):
    contract = active_contract(owner, customer)
    with tenant_scope(owner.tenant):
        milestone = services.milestone_save(
            actor=owner, contract=contract, data={"title": "上线", "due_date": date(2026, 3, 1)}
        )
        invoice = services.invoice_upsert(actor=owner, contract=contract, data={
            "invoice_number": "INV-1", "amount": Decimal("1000"), "issue_date": date(2026, 1, 5),
            "due_date": date(2026, 2, 5)})  # fmt: skip
        change = services.change_request_create(
            actor=lead, contract=contract, changes={"contract_name": "Y"}, reason="r"
        )
    other_csm = make_user(role="csm", username="stranger_csm")
    reads = [
        f"/api/v1/contracts/{contract.pk}",
        f"/api/v1/contracts/{contract.pk}/change-requests",
        f"/api/v1/contracts/{contract.pk}/sla-bindings",
        f"/api/v1/contracts/{contract.pk}/milestones",
        f"/api/v1/customers/{customer.pk}/contracts",
    ]
    for url in reads:
        assert api_as(owner).get(url).status_code == 200, url
        for stranger in (outsider, other_csm):
            assert_api_not_found(api_as(stranger), url)
    writes = [
        (f"/api/v1/contracts/{contract.pk}/terminate", {"reason": "x"}),
        (f"/api/v1/contracts/{contract.pk}/renew", {}),
        (f"/api/v1/contracts/{contract.pk}/milestones/{milestone.pk}", {"title": "z"}),
        (f"/api/v1/contracts/{contract.pk}/invoices", {}),
        (f"/api/v1/invoices/{invoice.pk}/payments", {"amount": 1, "paid_date": "2026-02-01"}),
        (f"/api/v1/change-requests/{change.pk}/approve", {}),
        (f"/api/v1/contracts/{contract.pk}/sla-bindings/P1", {"first_response_minutes": 5, "resolution_minutes": 9}),
    ]
    for url, payload in writes:
        method = "patch" if "/milestones/" in url else "put" if "/sla-bindings/" in url else "post"
        assert_api_not_found(api_as(outsider), url, methods=[method], payload=payload)
    assert assert_envelope(api_as(outsider).get("/api/v1/contracts"), 200)["total"] == 0
    with tenant_scope(owner.tenant):
        contract.refresh_from_db()
    assert contract.status == 2 and contract.contract_name == "运维服务"


def test_list_filters_and_sort(api_as, owner, customer):
    a = make_contract(owner, customer, end=date(2026, 6, 30))
    b = active_contract(owner, customer, start=date(2026, 7, 1), end=date(2027, 6, 30), contract_type=3)
    client = api_as(owner)

    def ids(query):
        return [i["contract_id"] for i in assert_envelope(client.get(f"/api/v1/contracts?{query}"), 200)["items"]]

    assert ids("status=2") == [b.pk]
    assert ids("contract_type=3") == [b.pk]
    assert ids(f"customer={customer.pk}&sort=end_date,desc") == [b.pk, a.pk]
    assert ids("end_from=2026-07-01") == [b.pk]
    assert ids("end_to=2026-07-01") == [a.pk]
    assert assert_envelope(client.get("/api/v1/contracts?status=7"), 400)["field"] == "status"


# --- SLA, milestones, invoices --------------------------------------------------------------------------------------
def test_sla_bindings_per_priority(api_as, owner, customer):
    contract = make_contract(owner, customer)
    url = f"/api/v1/contracts/{contract.pk}/sla-bindings"
    body = {"first_response_minutes": 15, "resolution_minutes": 240, "service_hours": "7x24",
            "availability_target": 99.95}  # fmt: skip
    assert assert_envelope(api_as(owner).put(f"{url}/P1", body, format="json"), 200)["priority"] == "P1"
    bad = api_as(owner).put(f"{url}/P2", {"first_response_minutes": 60, "resolution_minutes": 30}, format="json")
    assert assert_envelope(bad, 400)["field"] == "resolution_minutes"
    assert_envelope(api_as(owner).put(f"{url}/P9", body, format="json"), 404)
    assert [b["priority"] for b in assert_envelope(api_as(owner).get(url), 200)] == ["P1"]


def test_invoices_need_the_amount_permission(api_as, owner, customer, teammate, finance):
    contract = active_contract(owner, customer)
    url = f"/api/v1/contracts/{contract.pk}/invoices"
    body = {"invoice_number": "INV-9", "amount": 5000, "issue_date": "2026-02-01", "due_date": "2026-03-01"}
    assert_envelope(api_as(teammate).post(url, body, format="json"), 403)
    invoice = assert_envelope(api_as(finance).post(url, body, format="json"), 201)
    paid = api_as(finance).post(
        f"/api/v1/invoices/{invoice['invoice_id']}/payments", {"amount": 5000, "paid_date": "2026-02-20"}, format="json"
    )
    assert_envelope(paid, 201)
    with tenant_scope(owner.tenant):
        assert Invoice.objects.get(pk=invoice["invoice_id"]).status == "paid"


# --- Finance integration ----------------------------------------------------------------------------------------------
def _signed_post(client, key, secret, payload, *, timestamp=None, signature=None):
    body = json.dumps(payload).encode()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return client.generic(
        "POST", "/api/v1/integrations/payments", body, content_type="application/json",
        HTTP_X_CRM_KEY=key.key_id, HTTP_X_CRM_TIMESTAMP=ts, HTTP_X_CRM_SIGNATURE=signature or sign(secret, ts, body),
    )  # fmt: skip


@pytest.fixture
def finance_key(tenant):
    return integration_key_create(tenant=tenant, name="finance")


def _payload(contract, amount=5000, paid=None):
    item = {
        "contract_code": contract.contract_code,
        "invoice": {"external_id": "FIN-INV-1", "invoice_number": "INV-2026-001", "amount": amount,
                    "issue_date": "2026-02-01", "due_date": "2026-03-01"},
    }  # fmt: skip
    if paid:
        item["payment"] = {"external_id": "FIN-PAY-1", "amount": paid, "paid_date": "2026-02-25"}
    return {"items": [item]}


def test_signed_upsert_is_idempotent_by_external_id(client, owner, customer, finance_key):
    key, secret = finance_key
    contract = active_contract(owner, customer)
    assert_envelope(_signed_post(client, key, secret, _payload(contract)), 200)
    time.sleep(0)  # a second, different request (new timestamp below) with the same external ids
    second = _signed_post(
        client, key, secret, _payload(contract, amount=5200, paid=5200), timestamp=int(time.time()) + 1
    )
    data = assert_envelope(second, 200)
    assert data["items"][0]["invoice_status"] == "paid"
    with tenant_scope(owner.tenant):
        assert Invoice.objects.count() == 1 and Invoice.objects.get().amount == Decimal("5200")
        assert Payment.objects.count() == 1


def test_bad_signature_is_401(client, owner, customer, finance_key):
    key, secret = finance_key
    contract = active_contract(owner, customer)
    response = _signed_post(client, key, secret, _payload(contract), signature="sha256=" + "0" * 64)
    assert_envelope(response, 401, code=codes.NOT_AUTHENTICATED)
    with tenant_scope(owner.tenant):
        assert not Invoice.objects.exists()


def test_stale_timestamp_is_401(client, owner, customer, finance_key):
    key, secret = finance_key
    contract = active_contract(owner, customer)
    assert_envelope(_signed_post(client, key, secret, _payload(contract), timestamp=int(time.time()) - 301), 401)


def test_replayed_request_is_401(client, owner, customer, finance_key):
    key, secret = finance_key
    contract = active_contract(owner, customer)
    ts = int(time.time())
    assert_envelope(_signed_post(client, key, secret, _payload(contract), timestamp=ts), 200)
    assert_envelope(_signed_post(client, key, secret, _payload(contract), timestamp=ts), 401)


def test_key_of_another_tenant_cannot_reach_our_contracts(client, owner, customer, other_tenant):
    key, secret = integration_key_create(tenant=other_tenant)
    contract = active_contract(owner, customer)
    response = _signed_post(client, key, secret, _payload(contract))
    assert assert_envelope(response, 400, code=codes.CONTRACT_INVALID)["field"] == "items[0].contract_code"
    with tenant_scope(owner.tenant):
        assert not Invoice.objects.exists()


def test_unsigned_call_is_401_and_a_jwt_is_not_enough(client, api_as, owner):
    assert_envelope(client.post("/api/v1/integrations/payments", {}, content_type="application/json"), 401)
    assert_envelope(api_as(owner).post("/api/v1/integrations/payments", {}, format="json"), 401)


def test_create_integration_key_command_prints_key_and_secret(tenant, capsys):
    from django.core.management import call_command

    call_command("create_integration_key", tenant=tenant.name)
    key_id, secret = capsys.readouterr().out.split()
    assert key_id.startswith("ck_") and len(secret) == 64


def test_renewal_probability_explains_itself(owner, customer):
    contract = active_contract(owner, customer, renewal_type=2)
    with tenant_scope(owner.tenant):
        Customer.objects.filter(pk=customer.pk).update(health_score=Decimal("88"))
        contract.refresh_from_db()
        probability, reasons = services.renewal_probability(contract)
    assert 0.8 <= probability <= 1 and len(reasons) == 2


def test_duplicate_invoice_number_is_a_clear_400(api_as, owner, customer):
    contract = active_contract(owner, customer)
    url = f"/api/v1/contracts/{contract.pk}/invoices"
    body = {"invoice_number": "INV-7", "amount": 10, "issue_date": "2026-02-01", "due_date": "2026-03-01"}
    assert_envelope(api_as(owner).post(url, body, format="json"), 201)
    assert assert_envelope(api_as(owner).post(url, body, format="json"), 400)["field"] == "invoice_number"
