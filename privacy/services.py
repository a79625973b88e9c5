"""Data-subject requests: export (access, portability), erasure, correction; and retention purges.

Every step is audited with an action starting with `privacy.` (the compliance report counts them by that prefix).
Audit entries of a request carry ids, kinds and counts, never the contact's values.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Tenant, User
from accounts.services import audit_record
from accounts.tenancy import tenant_scope
from crm_project import crypto
from crm_project.exports import neutralise
from customers.models import CustomerContact
from privacy.models import DataSubjectRequest, RequestKind, RequestStatus, RetentionPolicy
from privacy.registry import PersonalData, personal_data, retention_classes
from privacy.scrub import ErasureContext, contact_needles, matching_rows, scrub_queryset

CORRECTABLE_FIELDS = ("contact_name", "position", "department", "phone", "mobile", "email", "wechat")


# --- Rows held about a contact ---------------------------------------------------------------------------------------


def _candidate_rows(entry: PersonalData, ctx: ErasureContext):
    model = entry.model
    rows = model._base_manager.all()
    if entry.tenant_field:
        rows = rows.filter(**{entry.tenant_field: ctx.tenant.pk})
    if entry.scope is not None:
        rows = rows.filter(entry.scope(ctx))
    return rows


def _own_filter(entry: PersonalData, ctx: ErasureContext) -> models.Q | None:
    if entry.contact_field is None:
        if entry.model._meta.label_lower == "accounts.auditlog":
            return models.Q(object_type="customers.customercontact", object_id=str(ctx.contact.pk))
        return None
    if callable(entry.contact_field):
        return entry.contact_field(ctx)
    return models.Q(**{entry.contact_field: ctx.contact.pk})


def _plain(value: Any) -> Any:
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def collect(ctx: ErasureContext) -> dict[str, list[dict[str, Any]]]:
    """Every registered row that is the contact's own or mentions its values: {source key: [row dicts]}."""
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in personal_data:
        rows = _candidate_rows(entry, ctx)
        own = _own_filter(entry, ctx)
        ids = set(rows.filter(own).values_list("pk", flat=True)) if own is not None else set()
        ids |= set(matching_rows(rows, entry.fields, ctx.needles).values_list("pk", flat=True))
        if not ids:
            continue
        values = entry.model._base_manager.filter(pk__in=ids).order_by("pk").values("pk", *entry.fields)
        found[entry.key] = [{k if k != "pk" else "id": _plain(v) for k, v in row.items()} for row in values]
    return found


def _context(contact: CustomerContact) -> ErasureContext:
    return ErasureContext(tenant=contact.tenant, contact=contact, needles=contact_needles(contact))


# --- Export ----------------------------------------------------------------------------------------------------------


def package_dir(tenant_id: int) -> Path:
    path = Path(settings.DATA_DIR) / "privacy" / str(tenant_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_package(found: dict[str, list[dict[str, Any]]], *, request_id: int) -> bytes:
    """A zip: `data.json` (everything) and one CSV per source (formula-safe cells, UTF-8 with BOM)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        meta = {"request_id": request_id, "generated_at": timezone.now().isoformat(), "sources": found}
        archive.writestr("data.json", json.dumps(meta, ensure_ascii=False, indent=2, default=str))
        for key, rows in found.items():
            columns = sorted({column for row in rows for column in row}, key=lambda c: (c != "id", c))
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow(columns)
            for row in rows:
                writer.writerow(
                    [neutralise(json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
                     for v in (row.get(c) for c in columns)]
                )  # fmt: skip
            archive.writestr(f"{key}.csv", "\ufeff" + text.getvalue())
    return buffer.getvalue()


def read_package(dsr: DataSubjectRequest) -> bytes | None:
    """The decrypted zip of an export request, or None when there is none (erased since, or never built)."""
    if not dsr.package_name:
        return None
    path = package_dir(dsr.tenant_id) / dsr.package_name
    if not path.exists():
        return None
    return crypto.fernet().decrypt(path.read_bytes())


def _export(dsr: DataSubjectRequest, ctx: ErasureContext) -> dict[str, Any]:
    found = collect(ctx)
    content = build_package(found, request_id=dsr.pk)
    name = f"request-{dsr.pk}.zip.enc"
    # Encrypted at rest with the field keys: the package holds every personal value in clear inside.
    (package_dir(dsr.tenant_id) / name).write_bytes(crypto.fernet().encrypt(content))
    dsr.package_name = name
    return {"rows": {key: len(rows) for key, rows in found.items()}, "package_bytes": len(content)}


# --- Erasure ---------------------------------------------------------------------------------------------------------


def _erase(dsr: DataSubjectRequest, ctx: ErasureContext) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for entry in personal_data:
        changed = entry.erase(ctx) if entry.erase is not None else 0
        changed += scrub_queryset(_candidate_rows(entry, ctx), entry.fields, ctx)
        if changed:
            counts[entry.key] = changed
    # Export packages built earlier for this contact go too.
    removed = 0
    for other in DataSubjectRequest.objects.filter(contact_id=ctx.contact.pk, kind=RequestKind.EXPORT).exclude(
        package_name=""
    ):
        path = package_dir(other.tenant_id) / other.package_name
        path.unlink(missing_ok=True)
        DataSubjectRequest.objects.filter(pk=other.pk).update(package_name="")
        removed += 1
    return {"rows": counts, "export_packages_removed": removed}


# --- Correction ------------------------------------------------------------------------------------------------------


def _correct(dsr, ctx, *, actor, changes: dict[str, Any], request=None) -> dict[str, Any]:
    from customers import services as customer_services

    unknown = sorted(set(changes) - set(CORRECTABLE_FIELDS))
    if unknown:
        raise ValidationError({"changes": [_("These fields cannot be corrected here: %s") % ", ".join(unknown)]})
    if not changes:
        raise ValidationError({"changes": [_("Name at least one field to correct.")]})
    contact = ctx.contact
    for name, value in changes.items():
        setattr(contact, name, value)
    contact.full_clean(exclude=["tenant", "customer"])
    customer_services.contact_update(actor=actor, contact=contact, data=dict(changes), request=request)
    return {"fields": sorted(changes)}


# --- Requests --------------------------------------------------------------------------------------------------------


def contact_for_request(user: User, contact_id: Any) -> CustomerContact | None:
    """The contact with this id in the caller's tenant, visible to the caller (soft-deleted customers too), or None."""
    from customers.selectors import customers_visible_to

    try:
        pk = int(contact_id)
    except (TypeError, ValueError):
        return None
    return (
        CustomerContact.objects.select_related("tenant", "customer")
        .filter(pk=pk, customer__in=customers_visible_to(user, include_deleted=True))
        .first()
    )


@transaction.atomic
def request_create(
    *,
    actor: User,
    kind: str,
    contact: CustomerContact,
    reason: str = "",
    changes: dict[str, Any] | None = None,
    request=None,
) -> DataSubjectRequest:
    """Record the request and carry it out at once (a single contact takes well under a second)."""
    if kind not in RequestKind.values:
        raise ValidationError({"kind": [_("Choose export, erasure or correction.")]})
    dsr = DataSubjectRequest.objects.create(
        kind=kind, contact_id=contact.pk, customer_id=contact.customer_id, reason=reason, requested_by=actor
    )
    audit_record(
        action="privacy.request.created",
        actor=actor,
        obj=dsr,
        changes={"kind": (None, kind), "contact_id": (None, contact.pk)},
        request=request,
    )
    ctx = _context(contact)
    if kind == RequestKind.EXPORT:
        summary = _export(dsr, ctx)
        action = "privacy.export.completed"
    elif kind == RequestKind.ERASURE:
        summary = _erase(dsr, ctx)
        action = "privacy.erasure.completed"
    else:
        summary = _correct(dsr, ctx, actor=actor, changes=changes or {}, request=request)
        action = "privacy.correction.completed"
    dsr.status = RequestStatus.DONE
    dsr.completed_at = timezone.now()
    dsr.result_summary = summary
    # Not `reason`: erasure may just have scrubbed the contact's values out of it.
    dsr.save(update_fields=["status", "completed_at", "result_summary", "package_name"])
    audit_record(
        action=action,
        actor=actor,
        obj=dsr,
        changes={"contact_id": (None, contact.pk), "summary": (None, json.dumps(summary, sort_keys=True))},
        request=request,
    )
    dsr.refresh_from_db()
    return dsr


def package_download(*, actor: User, dsr: DataSubjectRequest, request=None) -> bytes | None:
    content = read_package(dsr)
    if content is not None:
        audit_record(
            action="privacy.export.downloaded",
            actor=actor,
            obj=dsr,
            changes={"contact_id": (None, dsr.contact_id), "bytes": (None, len(content))},
            request=request,
        )
    return content


# --- Retention -------------------------------------------------------------------------------------------------------


def retention_days(tenant: Tenant) -> dict[str, int]:
    """Days kept per data class for the tenant: its own policy, else the class default."""
    with tenant_scope(tenant):
        own = dict(RetentionPolicy.objects.values_list("data_class", "retention_days"))
    return {entry.key: own.get(entry.key, entry.default_days) for entry in retention_classes}


def _expired(entry, tenant: Tenant, days: int, now):
    cutoff = now - timedelta(days=days)
    rows = entry.queryset().filter(tenant_id=tenant.pk)
    return rows.filter(**{f"{entry.date_field}__lt": cutoff}), cutoff


def retention_report(tenant: Tenant, *, now=None) -> list[dict[str, Any]]:
    """Dry run: per data class, the rows a purge would remove now and the oldest date among them."""
    now = now or timezone.now()
    days = retention_days(tenant)
    report = []
    with tenant_scope(tenant):
        for entry in retention_classes:
            expired, cutoff = _expired(entry, tenant, days[entry.key], now)
            oldest = expired.aggregate(oldest=models.Min(entry.date_field))["oldest"]
            report.append(
                {
                    "data_class": entry.key,
                    "label": str(entry.label),
                    "retention_days": days[entry.key],
                    "cutoff": cutoff.isoformat(),
                    "count": expired.count(),
                    "oldest": oldest.isoformat() if oldest is not None else None,
                }
            )
    return report


def retention_purge(tenant: Tenant, *, dry_run: bool = False, now=None) -> list[dict[str, Any]]:
    """Remove what is past its retention period (each class in its own transaction); idempotent (a rerun finds
    nothing more). Returns the report with `purged` per class. The purge itself is audited."""
    now = now or timezone.now()
    report = retention_report(tenant, now=now)
    if dry_run:
        return report
    days = retention_days(tenant)
    with tenant_scope(tenant):
        for line, entry in zip(report, retention_classes, strict=True):
            purged = 0
            if line["count"]:
                with transaction.atomic():
                    expired, _cutoff = _expired(entry, tenant, days[entry.key], now)
                    if entry.purge is not None:
                        purged = entry.purge(expired)
                    else:
                        # Rows of the class itself (cascaded children such as analyses are not counted).
                        purged = expired.delete()[1].get(expired.model._meta.label, 0)
            line["purged"] = purged
    if any(line["purged"] for line in report):
        audit_record(
            action="privacy.retention.purged",
            obj=tenant,
            tenant=tenant,
            changes={line["data_class"]: (line["count"], line["purged"]) for line in report},
        )
    return report
