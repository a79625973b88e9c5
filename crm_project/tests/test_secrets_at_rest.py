"""Secrets at rest (issue 15): TOTP device secrets, OIDC client secrets, integration key secrets and webhook signing
secrets are Fernet ciphertext in their columns; sign-in with a code, HMAC-verified ingest and webhook signing still
work; `rotate_field_keys` re-encrypts them and the data migrations encrypt existing rows (and decrypt them back)."""

from __future__ import annotations

import importlib
import time
from types import SimpleNamespace

import pyotp
import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test import Client

from accounts import totp
from accounts.integration import integration_key_create, sign
from accounts.models import IntegrationKey
from accounts.models_auth import OIDCProvider, TOTPDevice
from accounts.tenancy import tenant_scope, unscoped
from crm_project import crypto
from crm_project.testing import assert_envelope
from customers.tests.factories import make_customer
from service_records.tests.factories import signed_post
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.tests.factories import Target, make_delivery, make_subscription

pytestmark = pytest.mark.django_db

COLUMNS = {  # table -> secret column (every one the issue names; recovery codes are keyed hashes already)
    "totp_devices": "secret",
    "oidc_providers": "client_secret",
    "integration_keys": "secret",
    "webhook_subscriptions": "secret",
    "webhook_deliveries": "secret",
}


def _raw(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {COLUMNS[table]} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def secrets_world(owner, tenant):
    """One row of every table holding a secret, and the plaintext each one must read back as."""
    totp_secret = totp.new_secret()
    assert totp.enroll(owner, totp_secret, pyotp.TOTP(totp_secret).at(time.time() - 30)) is not None
    with tenant_scope(tenant):
        provider = OIDCProvider.objects.create(
            slug="vault",
            name="Vault SSO",
            issuer="https://idp.example.com",
            client_id="crm",
            client_secret="oidc-s3cret",
        )
    key, key_secret = integration_key_create(tenant=tenant, name="finance")
    subscription = make_subscription(owner)
    with unscoped("test reads the secret it just created"):
        hook_secret = WebhookSubscription.objects.get(pk=subscription.pk).secret
    delivery = make_delivery(owner, subscription)
    return {
        "totp_devices": (TOTPDevice.objects.get(user=owner).pk, totp_secret),
        "oidc_providers": (provider.pk, "oidc-s3cret"),
        "integration_keys": (key.pk, key_secret),
        "webhook_subscriptions": (subscription.pk, hook_secret),
        "webhook_deliveries": (delivery.pk, hook_secret),
    }


def _read_back(table: str, pk: int) -> str:
    with unscoped("test reads every secret back through its model"):
        if table == "totp_devices":
            return TOTPDevice.objects.get(pk=pk).secret
        if table == "oidc_providers":
            return OIDCProvider.objects.get(pk=pk).client_secret
        if table == "integration_keys":
            return IntegrationKey.objects.get(pk=pk).secret
        if table == "webhook_subscriptions":
            return WebhookSubscription.objects.get(pk=pk).secret
        return WebhookDelivery.objects.get(pk=pk).secret


def test_raw_columns_hold_no_plaintext_secret(secrets_world):
    for table, (pk, plain) in secrets_world.items():
        raw = _raw(table, pk)
        assert raw.startswith(crypto.TOKEN_PREFIX), table
        assert plain not in raw and plain.lower() not in raw.lower(), table
        assert _read_back(table, pk) == plain, table


def test_sign_in_with_an_encrypted_totp_secret(owner, password, secrets_world):
    _pk, secret = secrets_world["totp_devices"]
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.post("/accounts/login/", {"username": owner.username, "password": password}).status_code == 302
    assert client.post("/accounts/login/verify/", {"code": pyotp.TOTP(secret).now()})["Location"] == "/"
    assert client.get("/").status_code == 200


def test_hmac_verified_ingest_with_an_encrypted_key_secret(client, owner, tenant):
    customer = make_customer(owner, customer_name="Ingest Co")
    key, secret = integration_key_create(tenant=tenant)
    assert _raw("integration_keys", key.pk).startswith(crypto.TOKEN_PREFIX)
    event = {"event_id": "e-1", "customer_code": customer.customer_code, "user_id": "alice", "event_type": "login",
             "occurred_at": "2026-06-10 09:00:00"}  # fmt: skip
    path = "/api/v1/integrations/usage-events"
    assert assert_envelope(signed_post(client, key, secret, {"events": [event]}, path=path), 200)["stored"] == 1
    assert signed_post(client, key, "not-the-secret", {"events": [event]}, path=path).status_code == 401


def test_webhook_signed_with_the_decrypted_secret(owner, settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    monkeypatch.setattr(webhook_services, "queue", lambda ids, countdown=0: None)
    with Target() as target:
        subscription = make_subscription(owner, url=target.url)
        delivery = make_delivery(owner, subscription)
        assert _raw("webhook_deliveries", delivery.pk).startswith(crypto.TOKEN_PREFIX)
        assert webhook_services.attempt(delivery.pk).state == "delivered"
    headers, body = target.received[-1]["headers"], target.received[-1]["body"]
    with unscoped("test"):
        secret = WebhookSubscription.objects.get(pk=subscription.pk).secret
    assert len(secret) == 64 and not secret.startswith(crypto.TOKEN_PREFIX)
    assert headers["X-CRM-Signature"] == sign(secret, headers["X-CRM-Timestamp"], body)


def test_rotation_re_encrypts_every_secret_and_they_still_decrypt(settings, owner, tenant):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CRM_FIELD_KEYS = [old]
    # Rows written under the old key only.
    totp_secret = totp.new_secret()
    totp.enroll(owner, totp_secret, pyotp.TOTP(totp_secret).at(time.time() - 30))
    with tenant_scope(tenant):
        provider = OIDCProvider.objects.create(
            slug="rot", name="Rot", issuer="https://idp.example.com", client_id="crm", client_secret="rot-s3cret"
        )
    key, key_secret = integration_key_create(tenant=tenant)
    subscription = make_subscription(owner)
    delivery = make_delivery(owner, subscription)
    with unscoped("test"):
        hook_secret = WebhookSubscription.objects.get(pk=subscription.pk).secret
    world = {
        "totp_devices": (TOTPDevice.objects.get(user=owner).pk, totp_secret),
        "oidc_providers": (provider.pk, "rot-s3cret"),
        "integration_keys": (key.pk, key_secret),
        "webhook_subscriptions": (subscription.pk, hook_secret),
        "webhook_deliveries": (delivery.pk, hook_secret),
    }
    before = {table: _raw(table, pk) for table, (pk, _plain) in world.items()}

    settings.CRM_FIELD_KEYS = [new, old]
    call_command("rotate_field_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.CRM_FIELD_KEYS = [new]  # the old key is gone: everything must read with the new one alone
    for table, (pk, plain) in world.items():
        raw = _raw(table, pk)
        assert raw != before[table] and crypto.encrypted_with_newest(raw), table
        assert _read_back(table, pk) == plain, table
    # The TOTP code step works on the rotated secret.
    assert totp.verify(owner, pyotp.TOTP(totp_secret).now()) == "totp"


@pytest.mark.parametrize(
    "module",
    ["accounts.migrations.0006_secfix_encrypt_secrets", "webhooks.migrations.0002_secfix_encrypt_secrets"],
)
def test_data_migrations_encrypt_existing_rows_and_reverse(secrets_world, module):
    migration = importlib.import_module(module)
    schema_editor = SimpleNamespace(connection=connection)
    tables = [table for table, _columns, _limits in migration._TABLES]
    with connection.cursor() as cursor:  # rows as they were before the migration: plaintext
        for table in tables:
            pk, plain = secrets_world[table]
            cursor.execute(f"UPDATE {table} SET {COLUMNS[table]} = %s WHERE id = %s", [plain, pk])  # noqa: S608
    forward = [op for op in migration.Migration.operations if op.__class__.__name__ == "RunPython"]
    for operation in forward:
        operation.code(apps, schema_editor)
        operation.code(apps, schema_editor)  # a rerun leaves ciphertext alone
    for table in tables:
        pk, plain = secrets_world[table]
        assert _raw(table, pk).startswith(crypto.TOKEN_PREFIX) and _read_back(table, pk) == plain
    for operation in forward:
        operation.reverse_code(apps, schema_editor)
    for table in tables:
        pk, plain = secrets_world[table]
        assert _raw(table, pk) == plain
