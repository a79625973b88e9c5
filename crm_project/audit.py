"""The audit log's helpers: entries written in bulk, the access audit (`record_access`, `record_export`) and the
compliance report's counting by category of action.

Audit entries written in bulk (imports, demo data, set-based jobs), masked exactly like `audit_record`.

entries = [audit_entry(action="crm.customer.created", actor=user, obj=customer, changes={...}) for ...]
audit_record_many(entries)                # one INSERT per batch
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditLog, Tenant, User
from accounts.services import _plain, client_ip, mask_value, user_agent
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
        user_agent=user_agent(request),
        trace_id=trace if trace != "-" else "",
    )


def audit_record_many(entries: Iterable[AuditLog]) -> int:
    entries = list(entries)
    if entries:
        with unscoped("audit entries carry their own tenant"):
            AuditLog.objects.bulk_create(entries, batch_size=BATCH_SIZE)
    return len(entries)


# --- Access audit (PRD 7.4.2) ----------------------------------------------------------------------------------------
# Reading a customer's detail, a contact's details, a contract document, and every export is recorded with who, what,
# when and from where (IP, user agent). List pages are not. One call in the view:
#
#     record_access(request, customer, CUSTOMER_VIEWED)
#     record_access(request, None, EXPORT_PREFIX + "contracts", object_type="contracts.contract", rows=n)
ACCESS_PREFIX = "crm.access."
EXPORT_PREFIX = "crm.export."
CUSTOMER_VIEWED = ACCESS_PREFIX + "customer_viewed"
CONTACT_VIEWED = ACCESS_PREFIX + "contact_viewed"
CONTRACT_DOCUMENT_VIEWED = ACCESS_PREFIX + "contract_document_viewed"


# Labels of the access audit's actions (registered by crm_project's AppConfig; a test checks every one is there).
ACCESS_LABELS = {
    CUSTOMER_VIEWED: _("Customer details read"),
    CONTACT_VIEWED: _("Contact details read"),
    CONTRACT_DOCUMENT_VIEWED: _("Contract document read"),
    EXPORT_PREFIX + "contracts": _("Contracts exported"),
    EXPORT_PREFIX + "renewals": _("Renewal pipeline exported"),
    EXPORT_PREFIX + "segment_members": _("Segment members exported"),
    EXPORT_PREFIX + "service_report": _("Service report downloaded"),
    EXPORT_PREFIX + "compliance_report": _("Compliance report exported"),
}


def _actor(request) -> User | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


def record_access(
    request, obj: models.Model | None, action: str, *, object_type: str = "", object_repr: str = "", **details: Any
) -> AuditLog:
    """One audit row for reading or exporting something: the signed-in user, the object (or its type), the view
    (API or page), the IP address and user agent. `details` are extra facts (rows=..., format=...)."""
    from accounts.services import audit_record

    match = getattr(request, "resolver_match", None)
    facts: dict[str, tuple[Any, Any]] = {"via": (None, "api" if "/api/" in getattr(request, "path", "") else "page")}
    if match is not None and match.view_name:
        facts["view"] = (None, match.view_name)
    facts.update({name: (None, value) for name, value in details.items()})
    return audit_record(
        action=action,
        actor=_actor(request),
        obj=obj,
        object_type=object_type,
        object_repr=object_repr,
        changes=facts,
        request=request,
    )


def record_export(request, what: str, *, object_type: str = "", rows: int | None = None, **details: Any) -> AuditLog:
    """An export (file download of many rows): `crm.export.<what>`."""
    if rows is not None:
        details["rows"] = rows
    filters = getattr(request, "GET", None)
    if filters:
        details.setdefault("filters", filters.urlencode()[:500])
    return record_access(request, None, EXPORT_PREFIX + what, object_type=object_type, **details)


# --- Compliance report (PRD 7.4): the audit log counted by category of action ----------------------------------------
@dataclass(frozen=True)
class ComplianceCategory:
    """Which audit actions a category of the compliance report counts: by prefix, suffix or a word they contain.
    Apps never need importing: e.g. the privacy app's actions all start with `privacy.`."""

    key: str
    label: Any
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()

    def matches(self, action: str) -> bool:
        return (
            action.startswith(self.prefixes)
            or action.endswith(self.suffixes)
            or any(word in action for word in self.contains)
        )

    def q(self) -> Q:
        query = Q(pk__in=[])
        for prefix in self.prefixes:
            query |= Q(action__startswith=prefix)
        for suffix in self.suffixes:
            query |= Q(action__endswith=suffix)
        for word in self.contains:
            query |= Q(action__contains=word)
        return query


COMPLIANCE_CATEGORIES: list[ComplianceCategory] = [
    ComplianceCategory(
        "sensitive_access",
        _("Access to sensitive data"),
        prefixes=(ACCESS_PREFIX,),
        contains=("unmask", "reveal", "decrypt"),
    ),
    ComplianceCategory("exports", _("Exports"), prefixes=(EXPORT_PREFIX,), suffixes=(".exported",)),
    ComplianceCategory("data_subject", _("Data-subject requests"), prefixes=("privacy.",)),
    ComplianceCategory(
        "admin",
        _("Administration"),
        prefixes=(
            "crm.user.",
            "crm.role",
            "crm.tenant.",
            "crm.settings",
            "crm.auth.token",
            "crm.auth.totp",
            "crm.auth.sso",
            "crm.api_token",
            "crm.integration",
            "crm.sso",
            "crm.retention",
        ),
        suffixes=("settings_changed", "role_changed", ".roles_changed"),
    ),
]


def compliance_category(action: str) -> ComplianceCategory | None:
    """The first category counting this action (a category's order decides when two would match)."""
    return next((category for category in COMPLIANCE_CATEGORIES if category.matches(action)), None)


def compliance_queryset(start: datetime, end: datetime):
    """Audit rows of the current tenant in [start, end) that some compliance category counts."""
    query = Q(pk__in=[])
    for category in COMPLIANCE_CATEGORIES:
        query |= category.q()
    return AuditLog.objects.filter(query, created_at__gte=start, created_at__lt=end)


def compliance_summary(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per category: the total, and per action and per actor the counts (one aggregate query)."""
    from accounts.registry import audit_labels

    rows = compliance_queryset(start, end).values("action", "actor_name").annotate(n=Count("id")).order_by()
    summary = {
        category.key: {"category": category, "total": 0, "actions": Counter(), "actors": Counter()}
        for category in COMPLIANCE_CATEGORIES
    }
    for row in rows:
        category = compliance_category(row["action"])
        if category is None:
            continue
        entry = summary[category.key]
        entry["total"] += row["n"]
        entry["actions"][row["action"]] += row["n"]
        entry["actors"][row["actor_name"] or "—"] += row["n"]
    return [
        {
            "key": key,
            "label": entry["category"].label,
            "total": entry["total"],
            "actions": [
                {"action": action, "label": audit_labels.label(action), "count": count}
                for action, count in entry["actions"].most_common()
            ],
            "actors": entry["actors"].most_common(10),
        }
        for key, entry in summary.items()
    ]
