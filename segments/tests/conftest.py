"""Segments tests run Celery eagerly: a task queued with `.delay()` runs at once in the test (errors propagate)."""

import pytest


@pytest.fixture(autouse=True)
def _celery_eager():
    from crm_project.celery import app

    before = {key: app.conf.get(key) for key in ("task_always_eager", "task_eager_propagates")}
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    app.conf.update(before)
