"""Audit entries written in bulk (imports, demo data, set-based jobs), masked exactly like `audit_record`.

entries = [audit_entry(action="crm.customer.created", actor=user, obj=customer, changes={...}) for ...]
audit_record_many(entries)                # one INSERT per batch
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from accounts.models import AuditLog, Tenant, User
from accounts.services import _plain, client_ip, mask_value
from accounts.tenancy import current_tenant, unscoped
from crm_project.middleware import current_trace_id

BATCH_SIZE = 1000


def audit_entry(
    *,
    action: str,
    obj: models.Model,
    actor: User | None = None,
    changes: dict[str, tuple[Any, Any]] | None = None,
    request=None,
    tenant: Tenant | None = None,
) -> AuditLog:
    """An unsaved audit entry, the same as `accounts.services.audit_record` would write."""
    trace = current_trace_id()
    scope = current_tenant()
    tenant_id = (
        (tenant.pk if tenant is not None else None)
        or getattr(obj, "tenant_id", None)
        or (scope.pk if scope is not None else None)
        or getattr(actor, "tenant_id", None)
    )
    return AuditLog(
        tenant_id=tenant_id,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=(actor.get_username() if actor is not None else "")[:150],
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk or ""),
        object_repr=str(obj)[:200],
        changes={
            field: {"old": mask_value(field, _plain(old)), "new": mask_value(field, _plain(new))}
            for field, (old, new) in (changes or {}).items()
        },
        ip_address=client_ip(request) if request is not None else None,
        trace_id=trace if trace != "-" else "",
    )


def audit_record_many(entries: Iterable[AuditLog]) -> int:
    entries = list(entries)
    if entries:
        with unscoped("audit entries carry their own tenant"):
            AuditLog.objects.bulk_create(entries, batch_size=BATCH_SIZE)
    return len(entries)
