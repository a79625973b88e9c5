"""Base class of every tenant task: load the tenant by id, run inside its scope, record the run."""

from __future__ import annotations

from celery import Task

from accounts.tenancy import tenant_scope, unscoped
from crm_project.middleware import _trace_id


class TenantTask(Task):
    """A task whose first argument is `tenant_id`; the body runs inside that tenant's scope.

    Retries with exponential backoff on transient database or broker faults. The job-run record is
    written by the task body through `accounts.services.job_run`, which also stores its counts.
    """

    abstract = True
    autoretry_for = (ConnectionError, TimeoutError)
    retry_backoff = True
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 5

    def __call__(self, tenant_id: int, *args, **kwargs):
        from accounts.models import Tenant

        trace_token = _trace_id.set(f"task-{self.request.id or 'eager'}")
        try:
            with unscoped("a task loads its tenant by id"):
                tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
            if tenant is None:
                return {"skipped": "tenant missing or inactive"}
            with tenant_scope(tenant):
                return super().__call__(tenant, *args, **kwargs)
        finally:
            _trace_id.reset(trace_token)
