import json
import re

import pytest
from django.core.management import call_command
from django.test import override_settings

from accounts.models import AuditLog, Tenant, User
from accounts.services import audit_record


def test_healthz_reports_database_and_broker_without_auth(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["database"] == "ok" and body["broker"] == "ok"


@override_settings(CELERY_EMBEDDED=False, REDIS_URL="redis://127.0.0.1:1/0")
def test_healthz_is_503_when_the_broker_is_down(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content)["broker"] == "error"


def test_openapi_schema_describes_the_envelope_and_paths(client, db):
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/auth/token", "/api/v1/auth/token/refresh", "/api/v1/notifications"} <= set(schema["paths"])
    envelope = schema["components"]["schemas"]["Envelope"]
    assert set(envelope["required"]) == {"code", "message", "data", "timestamp", "trace_id"}
    ok = schema["paths"]["/api/v1/notifications"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["allOf"][0] == {"$ref": "#/components/schemas/Envelope"}
    assert "401" in schema["paths"]["/api/v1/notifications"]["get"]["responses"]


def test_api_docs_render_with_local_assets_only(client, db):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
    assert external == []
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html


def test_static_assets_are_served_with_debug_off(client, db):
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 200
    assert client.get("/static/admin/css/base.css").status_code == 200


def test_create_tenant_is_idempotent(db, capsys):
    call_command("create_tenant", name="Blue Ops", admin_username="blue", admin_password="Blue-Ops-2025!")
    call_command("create_tenant", name="Blue Ops", admin_username="blue2", admin_password="Blue-Ops-2025!")
    assert "already exists" in capsys.readouterr().out
    assert Tenant.objects.filter(name="Blue Ops").count() == 1
    admin = User.objects.get(username="blue")
    assert admin.role == "tenant_admin" and admin.is_staff and not User.objects.filter(username="blue2").exists()


def test_create_user_with_role(db):
    call_command("create_tenant", name="Blue Ops", admin_username="blue", admin_password="Blue-Ops-2025!")
    call_command("create_user", tenant="Blue Ops", username="amy", password="Amy-Pass-2025!", role="csm")
    user = User.objects.get(username="amy")
    assert user.tenant.name == "Blue Ops" and user.role == "csm"


def test_create_user_refuses_unknown_tenant(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        call_command("create_user", tenant="Nope", username="x", password="Amy-Pass-2025!", role="csm")


def test_roles_exist_as_groups(db):
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"tenant_admin", "cs_lead", "csm", "finance", "viewer"}


def test_tenant_admin_sees_only_own_tenant_in_admin(owner, outsider, teammate, staff_client_as):
    audit_record(action="crm.theirs.done", actor=outsider)
    client = staff_client_as(owner)
    users = client.get("/admin/accounts/user/").content.decode()
    assert "teammate" in users and "outsider" not in users
    assert client.get(f"/admin/accounts/user/{outsider.pk}/change/").status_code in (302, 404)
    audit = client.get("/admin/accounts/auditlog/").content.decode()
    assert "crm.theirs.done" not in audit
    assert client.get("/admin/accounts/tenant/").status_code == 403


def test_audit_log_cannot_be_changed_in_admin(owner, staff_client_as):
    entry = audit_record(action="crm.mine.done", actor=owner)
    client = staff_client_as(owner)
    assert client.get("/admin/accounts/auditlog/add/").status_code == 403
    client.post(f"/admin/accounts/auditlog/{entry.pk}/delete/", {"post": "yes"})
    assert AuditLog._base_manager.filter(pk=entry.pk).exists()


def test_superuser_sees_every_tenant(owner, outsider, db):
    from django.test import Client

    root = User.objects.create_superuser("root", "root@example.com", "Root-Pass-2025!")
    client = Client()
    client.force_login(root)
    users = client.get("/admin/accounts/user/").content.decode()
    assert "owner" in users and "outsider" in users
    assert client.get("/admin/accounts/tenant/").status_code == 200


def test_dashboard_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
