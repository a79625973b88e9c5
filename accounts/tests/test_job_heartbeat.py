"""A job run whose worker died (SIGKILL, OOM) is found by its silent heartbeat and marked abandoned."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from accounts.models import JobRun
from accounts.registry import jobs
from accounts.services import job_heartbeat, job_run, job_runs_sweep
from accounts.tenancy import unscoped

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _run(**fields) -> JobRun:
    with unscoped("test writes job runs"):
        return JobRun.objects.create(**fields)


def _get(pk: int) -> JobRun:
    with unscoped("test reads job runs"):
        return JobRun.objects.get(pk=pk)


@pytest.mark.django_db
def test_a_job_beats_while_it_runs_and_shows_its_progress():
    with time_machine.travel(T0, tick=False) as clock:
        with job_run("chunked_job") as counts:
            run_id = counts.run_id
            assert _get(run_id).heartbeat_at == T0
            clock.shift(timedelta(minutes=5))
            counts["scored"] = 100
            counts.beat()  # one chunk done
            run = _get(run_id)
            assert run.status == "running" and run.heartbeat_at == T0 + timedelta(minutes=5)
            assert run.counts == {"scored": 100}
            counts["scored"] = 200
    run = _get(run_id)
    assert run.status == "succeeded" and run.counts == {"scored": 200} and run.error == ""


@pytest.mark.django_db
def test_the_sweeper_marks_silent_runs_abandoned_once_and_leaves_the_rest(tenant):
    threshold = 900
    with time_machine.travel(T0, tick=False) as clock:
        alive = _run(job_name="score_customers", tenant=tenant, heartbeat_at=T0)
        killed = _run(job_name="score_customers", tenant=tenant, heartbeat_at=T0)
        never_beat = _run(job_name="score_customers", tenant=tenant, started_at=T0, heartbeat_at=None)
        done = _run(job_name="expire_contracts", tenant=tenant, status="succeeded", finished_at=T0, heartbeat_at=T0)
        failed = _run(job_name="expire_contracts", status="failed", finished_at=T0, heartbeat_at=T0, error="boom")

        clock.shift(timedelta(seconds=threshold - 1))
        assert job_runs_sweep(stale_after=threshold) == {"abandoned": 0}  # not silent long enough yet
        job_heartbeat(alive.pk)  # the live worker's chunk finishes

        clock.shift(timedelta(seconds=2))
        assert job_runs_sweep(stale_after=threshold) == {"abandoned": 2}
        swept_at = T0 + timedelta(seconds=threshold + 1)
        for pk in (killed.pk, never_beat.pk):
            run = _get(pk)
            assert run.status == JobRun.Status.ABANDONED and run.finished_at == swept_at
            assert run.error.startswith("worker lost: no heartbeat for more than 900 s")
            assert "2026-03-02T01:00:00" in run.error
        assert _get(alive.pk).status == "running"
        assert _get(done.pk).status == "succeeded" and _get(failed.pk).error == "boom"

        clock.shift(timedelta(hours=1))
        assert job_runs_sweep(stale_after=threshold) == {"abandoned": 1}  # the live one went silent too
        assert job_runs_sweep(stale_after=threshold) == {"abandoned": 0}  # idempotent
        assert _get(killed.pk).finished_at == swept_at  # a second sweep does not touch an abandoned run
        assert job_heartbeat(killed.pk) is False  # a late beat does not resurrect it


@pytest.mark.django_db
def test_a_run_abandoned_too_early_that_finishes_after_all_keeps_its_real_outcome():
    with time_machine.travel(T0, tick=False) as clock:
        with job_run("slow_job") as counts:
            clock.shift(timedelta(hours=2))
            assert job_runs_sweep(stale_after=900) == {"abandoned": 1}
            assert _get(counts.run_id).status == "abandoned"
            counts["done"] = 1
    run = _get(counts.run_id)
    assert run.status == "succeeded" and run.error == "" and run.counts == {"done": 1}


@pytest.mark.django_db
def test_sweeper_is_a_registered_global_job_recorded_like_the_others(tenant, settings):
    settings.JOB_ABANDONED_AFTER_SECONDS = 600
    job = jobs.get("sweep_job_runs")
    assert job is not None and job.per_tenant is False and job.schedule is not None
    with time_machine.travel(T0, tick=False) as clock:
        stale = _run(job_name="compute_rfm", tenant=tenant, heartbeat_at=T0)
        clock.shift(timedelta(minutes=11))
        out = StringIO()
        call_command("run_job", "sweep_job_runs", stdout=out)
    assert '"abandoned": 1' in out.getvalue()
    assert _get(stale.pk).status == "abandoned"
    with unscoped("test reads job runs"):
        sweep = JobRun.objects.get(job_name="sweep_job_runs")
    assert sweep.tenant_id is None and sweep.status == "succeeded" and sweep.counts == {"abandoned": 1}


@pytest.mark.django_db
def test_an_abandoned_run_does_not_block_a_rerun_and_admins_see_why(owner, outsider, staff_client_as):
    with time_machine.travel(T0, tick=False) as clock:
        lost = _run(job_name="purge_read_notifications", tenant=owner.tenant, heartbeat_at=T0)
        theirs = _run(job_name="evaluate_segments", tenant=outsider.tenant, heartbeat_at=T0)
        clock.shift(timedelta(hours=1))
        job_runs_sweep(stale_after=900)
    call_command("run_job", "purge_read_notifications", "--tenant", owner.tenant.name, stdout=StringIO())
    with unscoped("test reads job runs"):
        statuses = list(
            JobRun.objects.filter(job_name="purge_read_notifications").order_by("pk").values_list("status", flat=True)
        )
    assert statuses == ["abandoned", "succeeded"]

    client = staff_client_as(owner)
    page = client.get("/accounts/jobs/?status=abandoned").content.decode()
    assert "purge_read_notifications" in page and "worker lost" in page
    assert "evaluate_segments" not in page  # another tenant's run stays invisible
    admin_page = client.get("/admin/accounts/jobrun/?status__exact=abandoned").content.decode()
    assert "purge_read_notifications" in admin_page and "evaluate_segments" not in admin_page
    assert _get(lost.pk).status == _get(theirs.pk).status == "abandoned"


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_keeps_a_long_job_alive(settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    with job_run("long_job") as counts:
        first = _get(counts.run_id).heartbeat_at
        deadline = time.monotonic() + 5
        while _get(counts.run_id).heartbeat_at == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _get(counts.run_id).heartbeat_at > first  # beaten by the thread, not by the job body
    assert _get(counts.run_id).status == "succeeded"
