"""Celery app for the drills: the project's app, with health scoring in small chunks (DRILL_CHUNK, default 100) so
that a SIGKILL lands between two committed chunks. Start with `PYTHONPATH=bench/drills celery -A drill_app worker`."""

import os

from celery.signals import worker_process_init

from crm_project.celery import app  # noqa: F401  (the worker's app)


@worker_process_init.connect
def _small_chunks(**kwargs):
    import health.services

    health.services.CHUNK = int(os.environ.get("DRILL_CHUNK", "100"))
