import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts import tasks
from accounts.models import JobRun, Notification
from accounts.tenancy import current_tenant, tenant_scope, unscoped


def _old_read_note(user):
    with tenant_scope(user.tenant):
        return Notification.objects.create(
            recipient=user, kind="k", message="old", read_at=timezone.now() - timedelta(days=400)
        )


def test_tenant_task_runs_inside_its_tenant_only(owner, outsider):
    _old_read_note(owner)
    _old_read_note(outsider)
    result = tasks.purge_read_notifications.apply(args=(owner.tenant_id,)).get()
    assert result == {"deleted": 1}
    assert current_tenant() is None
    with unscoped("test counts across tenants"):
        assert Notification.objects.filter(tenant=outsider.tenant).count() == 1
        assert Notification.objects.filter(tenant=owner.tenant).count() == 0


def test_tenant_task_is_safe_to_rerun(owner):
    _old_read_note(owner)
    assert tasks.purge_read_notifications.apply(args=(owner.tenant_id,)).get() == {"deleted": 1}
    assert tasks.purge_read_notifications.apply(args=(owner.tenant_id,)).get() == {"deleted": 0}
    with unscoped("test reads job runs"):
        assert JobRun.objects.filter(job_name="purge_read_notifications", status="succeeded").count() == 2


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_fan_out_queues_one_task_per_active_tenant(owner, outsider, monkeypatch):
    sent = []
    from crm_project.celery import app

    monkeypatch.setattr(app, "send_task", lambda name, args: sent.append((name, args)))
    outsider.tenant.is_active = False
    outsider.tenant.save()
    assert tasks.fan_out.apply(args=("accounts.tasks.purge_read_notifications",)).get() == 1
    assert sent == [("accounts.tasks.purge_read_notifications", (owner.tenant_id,))]


@pytest.mark.django_db(transaction=True)
def test_worker_round_trip_through_the_configured_broker(owner):
    """A real worker consumes from the broker of this run (Redis in CI, the folder broker otherwise)."""
    from celery.contrib.testing.worker import start_worker

    from crm_project.celery import app

    _old_read_note(owner)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        app.send_task("accounts.tasks.purge_read_notifications", args=(owner.tenant_id,))
        deadline = time.time() + 20
        while time.time() < deadline:
            with unscoped("test polls job runs written by the worker"):
                run = JobRun.objects.filter(job_name="purge_read_notifications").first()
            if run is not None and run.status != JobRun.Status.RUNNING:
                break
            time.sleep(0.2)
    assert run is not None and run.status == JobRun.Status.SUCCEEDED and run.counts == {"deleted": 1}
