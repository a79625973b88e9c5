"""The personal data of the lower layers (accounts, customers, Django admin) and of this app, registered here; the
higher apps register theirs from their own ready()."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from privacy.registry import PersonalData, RetentionClass, personal_data, retention_classes
from privacy.scrub import ERASED


def _erase_contact(ctx) -> int:
    """The contact row stays (other rows point at it) but holds nothing personal any more."""
    from customers.models import CustomerContact

    return CustomerContact._base_manager.filter(pk=ctx.contact.pk).update(
        contact_name=ERASED,
        position="",
        department="",
        phone="",
        mobile="",
        email="",
        wechat="",
        email_bidx="",
        mobile_bidx="",
        phone_bidx="",
        contact_preference="",
        last_contact_date=None,
    )


def _admin_log_scope(ctx) -> Q:
    """Django admin's log has no tenant: only entries about this contact or its customer."""
    from django.contrib.contenttypes.models import ContentType

    from customers.models import Customer, CustomerContact

    types = ContentType.objects.get_for_models(Customer, CustomerContact)
    return Q(content_type=types[CustomerContact], object_id=str(ctx.contact.pk)) | Q(
        content_type=types[Customer], object_id=str(ctx.contact.customer_id)
    )


def _audit_rows():
    from accounts.models import AuditLog

    return AuditLog._base_manager.all()


def _purge_audit(queryset) -> int:
    """The audit log is append-only for every writer but this purge (docs/decisions.md): raw delete, counted."""
    return queryset._raw_delete(queryset.db)


def register_core() -> None:
    from django.contrib.admin.models import LogEntry

    from accounts.models import AuditLog, JobRun, Notification
    from customers.models import Customer, CustomerContact, CustomerTag
    from privacy.models import DataSubjectRequest

    for entry in (
        PersonalData(
            "customers.contact",
            CustomerContact,
            fields=(
                "contact_name",
                "position",
                "department",
                "phone",
                "mobile",
                "email",
                "wechat",
                "contact_preference",
            ),
            contact_field="pk",
            erase=_erase_contact,
            weight=10,
        ),  # fmt: skip
        PersonalData("customers.customer", Customer, fields=("description", "address"), weight=11),
        PersonalData("customers.tag", CustomerTag, fields=("tag_value",), weight=12),
        PersonalData(
            "accounts.auditlog",
            AuditLog,
            fields=("actor_name", "object_repr", "changes"),
            contact_field=None,
            weight=900,
        ),
        PersonalData("accounts.notification", Notification, fields=("message",), weight=901),
        PersonalData("accounts.jobrun", JobRun, fields=("error", "counts"), weight=902),
        PersonalData(
            "admin.logentry",
            LogEntry,
            fields=("object_repr", "change_message"),
            tenant_field=None,
            scope=_admin_log_scope,
            weight=903,
        ),
        PersonalData("privacy.request", DataSubjectRequest, fields=("reason",), weight=999),
    ):
        personal_data.register(entry)
    retention_classes.register(
        RetentionClass(
            "audit",
            _("Audit log"),
            queryset=_audit_rows,
            date_field="created_at",
            default_days=3 * 365,
            purge=_purge_audit,
            weight=90,
        )
    )
