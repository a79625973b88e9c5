"""Jobs from the registry: the beat schedule is built from it, and an operator runs any job with run_job."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import JobRun, Notification
from accounts.registry import jobs
from accounts.tenancy import tenant_scope, unscoped
from crm_project.celery import FAN_OUT_TASK, build_beat_schedule


def run(*args) -> str:
    out = StringIO()
    call_command("run_job", *args, stdout=out)
    return out.getvalue()


def test_list_prints_every_registered_job_one_a_line():
    names = run("--list").splitlines()
    assert names == [job.key for job in jobs]
    assert {"expire_contracts", "send_renewal_reminders", "purge_read_notifications", "flush_expired_tokens"} <= set(
        names
    )


def test_beat_schedule_is_built_from_the_registry():
    schedule = build_beat_schedule()
    assert set(schedule) == {job.key for job in jobs if job.schedule is not None}
    assert schedule["expire_contracts"]["task"] == FAN_OUT_TASK
    assert schedule["expire_contracts"]["args"] == ("contracts.tasks.expire_contracts",)
    assert schedule["flush_expired_tokens"]["task"] == "accounts.tasks.flush_expired_tokens"
    assert "args" not in schedule["flush_expired_tokens"]


def _read_note(user):
    with tenant_scope(user.tenant):
        Notification.objects.create(
            recipient=user, kind="info", message="old", read_at=timezone.now() - timedelta(days=400)
        )


def test_run_job_runs_for_every_active_tenant_and_records_the_runs(owner, outsider):
    _read_note(owner)
    _read_note(outsider)
    outsider.tenant.is_active = False
    outsider.tenant.save()
    output = run("purge_read_notifications")
    assert f"purge_read_notifications [{owner.tenant.name}]" in output and outsider.tenant.name not in output
    with unscoped("test reads job runs"):
        runs = list(JobRun.objects.filter(job_name="purge_read_notifications"))
        assert Notification.objects.filter(recipient=outsider).count() == 1  # the inactive tenant was skipped
    assert [(r.tenant_id, r.status, r.counts) for r in runs] == [(owner.tenant_id, "succeeded", {"deleted": 1})]


def test_run_job_for_one_tenant_and_a_global_job(owner, outsider):
    _read_note(owner)
    _read_note(outsider)
    run("purge_read_notifications", "--tenant", outsider.tenant.name)
    with unscoped("test reads job runs"):
        assert Notification.objects.filter(recipient=owner).count() == 1
        assert Notification.objects.filter(recipient=outsider).count() == 0
    assert "flush_expired_tokens: " in run("flush_expired_tokens")
    with unscoped("test reads job runs"):
        assert JobRun.objects.filter(job_name="flush_expired_tokens", tenant=None, status="succeeded").exists()


def test_run_job_contracts_job_is_recorded_like_a_scheduled_run(owner):
    run("expire_contracts", "--tenant", owner.tenant.name)
    with unscoped("test reads job runs"):
        job_run = JobRun.objects.get(job_name="expire_contracts")
    assert job_run.tenant_id == owner.tenant_id and job_run.status == "succeeded"
    assert set(job_run.counts) >= {"expired", "auto_renewed", "customers_lost"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Name a job"),
        (("nope",), "No job named"),
        (("purge_read_notifications", "--tenant", "Nobody"), "No tenant named"),
        (("flush_expired_tokens", "--tenant", "Acme Ops"), "not a per-tenant job"),
    ],
)
def test_run_job_refuses_clearly(owner, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
