"""The Celery app. Production: Redis broker and results. Embedded (no REDIS_URL): a folder on disk is the broker.

The beat schedule is built from `accounts.registry.jobs` (apps register their jobs from `AppConfig.ready()`):
a per-tenant job runs through `accounts.tasks.fan_out` (one task per active tenant), a global job directly.
`python manage.py run_job NAME` runs the same jobs at once.
"""

import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")

app = Celery("crm_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

FAN_OUT_TASK = "accounts.tasks.fan_out"


def build_beat_schedule() -> dict[str, dict]:
    """One beat entry per registered job that has a schedule (read after every app's `ready()`)."""
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup()
    from accounts.registry import jobs

    schedule = {}
    for job in jobs:
        if job.schedule is None:
            continue
        if job.per_tenant:
            schedule[job.key] = {"task": FAN_OUT_TASK, "schedule": job.schedule, "args": (job.task,)}
        else:
            schedule[job.key] = {"task": job.task, "schedule": job.schedule}
    return schedule


@app.on_after_finalize.connect
def _schedule_registered_jobs(sender, **kwargs):
    sender.conf.beat_schedule = build_beat_schedule()


@beat_init.connect
def _schedule_before_beat_starts(sender=None, **kwargs):
    # Beat finalizes the app before it starts its scheduler; this covers an app finalized earlier too.
    app.conf.beat_schedule = build_beat_schedule()
