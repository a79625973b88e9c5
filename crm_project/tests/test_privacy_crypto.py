"""Field encryption at rest: raw columns hold ciphertext, keys rotate, blind indexes find equal values."""

from __future__ import annotations

import importlib
import logging
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from accounts.tenancy import tenant_scope
from crm_project import crypto
from crm_project.logmask import PersonalDataLogFilter
from customers import services
from customers.models import CustomerContact
from customers.tests.factories import make_contact, make_customer

pytestmark = pytest.mark.django_db

DETAILS = {"phone": "010-62345678", "mobile": "13812345678", "email": "Zhang.Wei@abc-tech.com", "wechat": "zw_wechat"}


def _raw(contact_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT phone, mobile, email, wechat, email_bidx, mobile_bidx FROM customer_contacts WHERE id = %s",
            [contact_id],
        )
        return cursor.fetchone()


@pytest.fixture
def contact(owner):
    customer = make_customer(owner, customer_name="Encrypted Co")
    return make_contact(owner, customer, contact_name="Zhang Wei", **DETAILS)


def test_raw_columns_hold_no_plaintext_and_the_model_reads_it_back(owner, contact):
    phone, mobile, email, wechat, email_bidx, mobile_bidx = _raw(contact.pk)
    for raw, plain in zip((phone, mobile, email, wechat), DETAILS.values(), strict=True):
        assert raw.startswith(crypto.TOKEN_PREFIX) and plain not in raw and plain.lower() not in raw.lower()
        assert "12345678" not in raw
    assert len(email_bidx) == 64 and len(mobile_bidx) == 64
    with tenant_scope(owner.tenant):
        again = CustomerContact.objects.get(pk=contact.pk)
    assert {f: getattr(again, f) for f in DETAILS} == DETAILS


def test_old_keys_still_decrypt_and_rotation_is_idempotent(owner, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CRM_FIELD_KEYS = [old]
    customer = make_customer(owner, customer_name="Rotating Co")
    contact = make_contact(owner, customer, contact_name="Li Na", mobile="13900001111", email="li.na@example.com")
    before = _raw(contact.pk)

    settings.CRM_FIELD_KEYS = [new, old]  # a new key in front: old ciphertexts still read
    with tenant_scope(owner.tenant):
        assert CustomerContact.objects.get(pk=contact.pk).mobile == "13900001111"
    call_command("rotate_field_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = _raw(contact.pk)
    assert after[1] != before[1] and after[2] != before[2]
    assert crypto.encrypted_with_newest(after[1]) and crypto.encrypted_with_newest(after[2])

    from privacy.management.commands.rotate_field_keys import rotate_all

    assert rotate_all()["customer_contacts"] == 0  # a rerun has nothing left to do
    assert _raw(contact.pk) == after

    settings.CRM_FIELD_KEYS = [new]  # the old key dropped after rotation
    with tenant_scope(owner.tenant):
        stored = CustomerContact.objects.get(pk=contact.pk)
    assert (stored.mobile, stored.email) == ("13900001111", "li.na@example.com")


def test_duplicate_detection_matches_contact_details_through_the_blind_index(owner):
    first = make_customer(owner, customer_name="Alpha Ops")
    make_contact(owner, first, contact_name="A", mobile="+8613811112222", email="Ops@Alpha.example")
    second = make_customer(owner, customer_name="Totally Different")
    make_contact(owner, second, contact_name="B", mobile="13811112222")
    third = make_customer(owner, customer_name="Another One")
    make_contact(owner, third, contact_name="C", email="ops@alpha.example")
    unrelated = make_customer(owner, customer_name="Unrelated")
    make_contact(owner, unrelated, contact_name="D", mobile="13999999999", email="x@y.example")
    with tenant_scope(owner.tenant):
        found = {c.customer.pk for c in services.customer_duplicates(first)}
    assert found == {second.pk, third.pk}


def test_data_migration_encrypts_existing_plaintext_rows(owner, contact):
    with connection.cursor() as cursor:  # a row as it was before the migration
        cursor.execute(
            "UPDATE customer_contacts SET phone=%s, mobile=%s, email=%s, wechat=%s, email_bidx='', mobile_bidx='' "
            "WHERE id=%s",
            [*DETAILS.values(), contact.pk],
        )
    migration = importlib.import_module("customers.migrations.0004_secdata_encrypt_contacts")
    migration.encrypt_rows(apps, SimpleNamespace(connection=connection))
    raw = _raw(contact.pk)
    assert all(value.startswith(crypto.TOKEN_PREFIX) for value in raw[:4])
    assert raw[4] == crypto.blind_index("email", DETAILS["email"])
    with tenant_scope(owner.tenant):
        assert CustomerContact.objects.get(pk=contact.pk).email == DETAILS["email"]
    migration.decrypt_rows(apps, SimpleNamespace(connection=connection))  # the way back
    assert _raw(contact.pk)[:4] == tuple(DETAILS.values())


def test_portal_account_email_is_encrypted_and_found_by_its_blind_index(owner, contact):
    from portal import services as portal_services
    from portal.models import PortalAccount

    with tenant_scope(owner.tenant):
        account, _path = portal_services.account_invite(
            actor=owner, customer=contact.customer, email="ZHANG.WEI@abc-tech.com", send=False
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM portal_accounts WHERE id = %s", [account.pk])
        (raw,) = cursor.fetchone()
    assert raw.startswith(crypto.TOKEN_PREFIX) and "abc-tech" not in raw
    assert account.contact_id == contact.pk
    with tenant_scope(owner.tenant):
        assert PortalAccount.objects.get(pk=account.pk).email == "zhang.wei@abc-tech.com"


def test_every_log_line_is_masked_by_the_installed_filter(settings):
    assert "crm_project.logmask.PersonalDataLogFilter" in str(settings.LOGGING["filters"])
    assert "mask_personal_data" in settings.LOGGING["handlers"]["console"]["filters"]
    record = logging.LogRecord(
        "crm", logging.INFO, __file__, 1, "called %s and wrote to %s", ("13812345678", "zhang.wei@abc-tech.com"), None
    )
    try:
        raise ValueError("failed for +86 138 1234 5678")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    PersonalDataLogFilter().filter(record)
    line = logging.Formatter().format(record)
    assert "138****5678" in line and "z***@abc-tech.com" in line
    assert "13812345678" not in line and "zhang.wei" not in line and "1234 5678" not in line


def test_gunicorn_access_lines_are_masked_too(capsys):
    import importlib.util
    from pathlib import Path

    from django.conf import settings as django_settings
    from gunicorn.config import Config

    path = Path(django_settings.BASE_DIR) / "crm_project" / "gunicorn.conf.py"
    spec = importlib.util.spec_from_file_location("crm_gunicorn_conf", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = Config()
    config.set("accesslog", "-")
    config.set("logger_class", module.MaskingLogger)
    logger = module.MaskingLogger(config)
    logger.access_log.info("GET /api/v1/customers?keyword=%s 200", "13812345678")
    out = capsys.readouterr()
    line = out.out + out.err
    assert "138****5678" in line and "13812345678" not in line
