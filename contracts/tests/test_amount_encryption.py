"""Contract amounts are encrypted at rest (issue 15): raw columns hold tokens, keys rotate, sums and sorting agree."""

from __future__ import annotations

import importlib
import json
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.exceptions import FieldError
from django.db import connection
from django.db.models import Sum

from accounts.tenancy import tenant_scope
from contracts import selectors, services
from contracts.choices import ContractStatus
from contracts.models import Contract
from contracts.tests.factories import ContractFactory
from crm_project import crypto
from crm_project.api import codes
from crm_project.testing import assert_envelope
from customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db

AMOUNT_TEXTS = ("120000", "120,000", "120000.00")


def _raw_amount(pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT contract_amount FROM customer_contracts WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _raw_json(table: str, column: str, contract_id) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE contract_id = %s ORDER BY id", [contract_id])
        return [row[0] if isinstance(row[0], str) else json.dumps(row[0]) for row in cursor.fetchall()]


def _assert_token(raw, *plain_texts):
    assert isinstance(raw, str) and raw.startswith(crypto.TOKEN_PREFIX)
    for text in plain_texts:
        assert text not in raw


@pytest.fixture
def customer(owner):
    return make_customer(owner, customer_name="Amount Co")


def _create(owner, customer, amount="120000", **extra):
    with tenant_scope(owner.tenant):
        return services.contract_create(
            actor=owner,
            customer=customer,
            data={"contract_name": "运维服务", "contract_amount": Decimal(amount), "start_date": date(2026, 1, 1),
                  "end_date": date(2026, 12, 31), **extra},
        )  # fmt: skip


def test_raw_column_holds_a_token_after_create_and_update_and_reads_back_the_amount(owner, customer):
    contract = _create(owner, customer, "120000")
    _assert_token(_raw_amount(contract.pk), *AMOUNT_TEXTS)
    with tenant_scope(owner.tenant):
        stored = Contract.objects.get(pk=contract.pk)
        assert stored.contract_amount == Decimal("120000.00") and str(stored.contract_amount) == "120000.00"
        services.contract_update(actor=owner, contract=stored, data={"contract_amount": Decimal("98765.4")})
    _assert_token(_raw_amount(contract.pk), "98765", "98,765")
    with tenant_scope(owner.tenant):
        assert Contract.objects.get(pk=contract.pk).contract_amount == Decimal("98765.40")


def test_versions_and_change_requests_keep_amounts_sealed(owner, make_user, customer):
    lead = make_user(role="cs_lead", username="approver")
    contract = _create(owner, customer, "120000")
    with tenant_scope(owner.tenant):
        contract = services.contract_sign(actor=owner, contract=contract)
        change = services.change_request_create(
            actor=owner, contract=contract, changes={"contract_amount": Decimal("150000")}, reason="扩容"
        )
        assert change.changes["contract_amount"] == {"old": "120000.00", "new": "150000"}
    for raw in _raw_json("contract_change_requests", "changes", contract.pk):
        assert "120000" not in raw and "150000" not in raw and crypto.TOKEN_PREFIX in raw
    with tenant_scope(owner.tenant):
        services.change_request_approve(actor=lead, change=change)
        assert Contract.objects.get(pk=contract.pk).contract_amount == Decimal("150000.00")
        assert services.version_diff(contract, 1, 2)["contract_amount"] == ("120000", "150000")
    for raw in _raw_json("contract_versions", "snapshot", contract.pk):
        assert "120000" not in raw and "150000" not in raw and crypto.TOKEN_PREFIX in raw
        assert json.loads(raw)["contract_code"] == contract.contract_code  # the other keys stay plain JSON
    _assert_token(_raw_amount(contract.pk), "150000")


def test_migration_encrypts_existing_rows_and_the_reverse_decrypts(owner, customer):
    contract = ContractFactory(customer=customer, contract_amount=Decimal("4321.50"))
    with tenant_scope(owner.tenant):
        services._add_version(contract, owner)
    with connection.cursor() as cursor:  # rows as the old schema wrote them: plain amounts
        cursor.execute("UPDATE customer_contracts SET contract_amount = %s WHERE id = %s", ["4321.5", contract.pk])
        cursor.execute(
            "UPDATE contract_versions SET snapshot = %s WHERE contract_id = %s",
            [json.dumps({"contract_code": "CT1", "contract_amount": "4321.50"}), contract.pk],
        )
    migration = importlib.import_module("contracts.migrations.0003_amountenc_encrypt_amounts")
    migration.encrypt_rows(apps, SimpleNamespace(connection=connection))
    _assert_token(_raw_amount(contract.pk), "4321")
    assert "4321" not in _raw_json("contract_versions", "snapshot", contract.pk)[0]
    with tenant_scope(owner.tenant):
        assert Contract.objects.get(pk=contract.pk).contract_amount == Decimal("4321.50")
        assert contract.versions.get().snapshot == {"contract_code": "CT1", "contract_amount": "4321.50"}
    migration.encrypt_rows(apps, SimpleNamespace(connection=connection))  # a rerun changes nothing readable
    with tenant_scope(owner.tenant):
        assert Contract.objects.get(pk=contract.pk).contract_amount == Decimal("4321.50")
    migration.decrypt_rows(apps, SimpleNamespace(connection=connection))  # the way back
    assert _raw_amount(contract.pk) == "4321.50"
    assert json.loads(_raw_json("contract_versions", "snapshot", contract.pk)[0])["contract_amount"] == "4321.50"


def test_rotation_keeps_amounts_readable_and_is_idempotent(owner, customer, settings):
    from privacy.management.commands.rotate_field_keys import rotate_all

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CRM_FIELD_KEYS = [old]
    contract = _create(owner, customer, "777.77")
    before = _raw_amount(contract.pk)
    settings.CRM_FIELD_KEYS = [new, old]  # old ciphertexts still read
    with tenant_scope(owner.tenant):
        assert Contract.objects.get(pk=contract.pk).contract_amount == Decimal("777.77")
    written = rotate_all()
    assert written["customer_contracts"] >= 1 and written["contract_versions"] >= 1
    after = _raw_amount(contract.pk)
    assert after != before and crypto.encrypted_with_newest(after)
    assert rotate_all()["customer_contracts"] == 0  # nothing left to do on a rerun
    settings.CRM_FIELD_KEYS = [new]  # the old key dropped after rotation
    with tenant_scope(owner.tenant):
        assert Contract.objects.get(pk=contract.pk).contract_amount == Decimal("777.77")
        assert contract.versions.get().snapshot["contract_amount"] == "777.77"


def test_sql_comparisons_on_the_amount_are_refused_instead_of_silently_wrong(owner, customer):
    _create(owner, customer)
    with tenant_scope(owner.tenant), pytest.raises(FieldError, match="encrypted"):
        list(Contract.objects.filter(contract_amount__gte=1))
    with tenant_scope(owner.tenant), pytest.raises(FieldError, match="encrypted"):
        Contract.objects.aggregate(total=Sum("contract_amount"))
    with tenant_scope(owner.tenant), pytest.raises(FieldError, match="encrypted"):
        list(Contract.objects.values("customer_id").annotate(total=Sum("contract_amount")))
    with tenant_scope(owner.tenant):
        assert Contract.objects.filter(contract_amount__isnull=False).count() == 1


def test_amount_totals_and_sorting_match_the_decimal_arithmetic(owner, customer):
    other = make_customer(owner, customer_name="Second Co")
    amounts = {customer: ["100.10", "2000", "0.05"], other: ["999999999999.99", "1"]}
    for who, values in amounts.items():
        for value in values:
            ContractFactory(customer=who, contract_amount=Decimal(value), status=ContractStatus.ACTIVE)
    with tenant_scope(owner.tenant):
        totals = selectors.amount_totals(Contract.objects.all())
        assert totals == {customer.pk: Decimal("2100.15"), other.pk: Decimal("1000000000000.99")}
        assert selectors.amount_total(Contract.objects.filter(customer=other)) == Decimal("1000000000000.99")
        assert selectors.amount_totals(Contract.objects.none()) == {}
        ordered = selectors.order_by_amount(Contract.objects.all(), ["-contract_amount", "-pk"])
        assert [str(c.contract_amount) for c in ordered] == ["999999999999.99", "2000.00", "100.10", "1.00", "0.05"]
        assert [str(c.contract_amount) for c in ordered[1:3]] == ["2000.00", "100.10"] and ordered.count() == 5


def test_contract_list_sorts_by_amount_in_python(owner, customer, staff_client_as):
    for value in ("500", "30", "7000"):
        ContractFactory(customer=customer, contract_amount=Decimal(value), contract_name=f"C{value}")
    client = staff_client_as(owner)
    for sort, expected in (("amount", ["C30", "C500", "C7000"]), ("amount,desc", ["C7000", "C500", "C30"])):
        html = client.get(f"/contracts/?sort={sort}").content.decode()
        assert [html.index(name) for name in expected] == sorted(html.index(name) for name in expected)


@pytest.mark.parametrize(
    ("amount", "field"),
    [(-5, "contract_amount"), ("12345678901234.5", "contract_amount"), ("1.234", "contract_amount")],
)
def test_api_validation_of_the_amount_is_unchanged(api_as, owner, customer, amount, field):
    body = {"contract_name": "年度运维服务合同", "contract_amount": amount, "currency": "CNY",
            "start_date": "2026-01-01", "end_date": "2026-12-31", "customer_id": customer.pk}  # fmt: skip
    response = api_as(owner).post("/api/v1/contracts", body, format="json")
    data = assert_envelope(response, 400, code=codes.CONTRACT_INVALID)
    assert data["field"] == field


def test_api_returns_the_amount_as_before(api_as, owner, customer):
    body = {"contract_name": "年度运维服务合同", "contract_amount": 360000.5, "currency": "CNY",
            "start_date": "2026-01-01", "end_date": "2026-12-31", "customer_id": customer.pk}  # fmt: skip
    created = assert_envelope(api_as(owner).post("/api/v1/contracts", body, format="json"), 201)
    assert created["contract_amount"] == 360000.5
    fetched = assert_envelope(api_as(owner).get(f"/api/v1/contracts/{created['contract_id']}"), 200)
    assert fetched["contract_amount"] == 360000.5
    _assert_token(_raw_amount(created["contract_id"]), "360000")
