import pytest

from accounts.models import Notification
from accounts.tenancy import TenantScopeError, current_tenant, tenant_scope, unscoped


def _note(user, text):
    with tenant_scope(user.tenant):
        return Notification.objects.create(recipient=user, kind="test", message=text)


def test_query_without_scope_raises(db):
    with pytest.raises(TenantScopeError):
        list(Notification.objects.all())


def test_empty_queryset_is_allowed_without_scope(db):
    assert list(Notification.objects.none()) == []


def test_scope_filters_rows_to_the_active_tenant(owner, outsider):
    _note(owner, "mine")
    _note(outsider, "theirs")
    with tenant_scope(owner.tenant):
        assert [n.message for n in Notification.objects.all()] == ["mine"]
    with tenant_scope(outsider.tenant):
        assert [n.message for n in Notification.objects.all()] == ["theirs"]


def test_new_rows_take_the_tenant_from_the_scope(owner):
    note = _note(owner, "hello")
    assert note.tenant_id == owner.tenant_id


def test_saving_without_scope_raises(owner):
    with pytest.raises(TenantScopeError):
        Notification(recipient=owner, kind="x", message="y").save()


def test_saving_another_tenants_row_inside_a_scope_raises(owner, outsider):
    note = _note(outsider, "theirs")
    with tenant_scope(owner.tenant), pytest.raises(TenantScopeError):
        note.save()


def test_unscoped_needs_a_reason_and_sees_all(owner, outsider):
    _note(owner, "a")
    _note(outsider, "b")
    with pytest.raises(ValueError):
        with unscoped(""):
            pass
    with unscoped("test reads every tenant"):
        assert Notification.objects.count() == 2


def test_scope_is_restored_after_an_exception(owner):
    with pytest.raises(RuntimeError):
        with tenant_scope(owner.tenant):
            raise RuntimeError("boom")
    assert current_tenant() is None


def test_scope_does_not_leak_between_requests(owner, outsider, staff_client_as):
    _note(owner, "owner-only message")
    _note(outsider, "outsider-only message")
    first = staff_client_as(owner).get("/accounts/notifications/")
    assert "owner-only message" in first.content.decode()
    assert current_tenant() is None
    second = staff_client_as(outsider).get("/accounts/notifications/")
    body = second.content.decode()
    assert "outsider-only message" in body and "owner-only message" not in body
    assert current_tenant() is None


def test_scope_does_not_leak_between_api_requests(owner, outsider, api_as):
    _note(owner, "owner-only message")
    first = api_as(owner).get("/api/v1/notifications")
    assert first.json()["data"]["total"] == 1
    assert current_tenant() is None
    second = api_as(outsider).get("/api/v1/notifications")
    assert second.json()["data"]["total"] == 0
    assert current_tenant() is None
