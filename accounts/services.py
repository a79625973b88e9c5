"""Writes with rules for the accounts app: tenants and users, the audit log, notifications and job runs."""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.mail import send_mail
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from accounts.models import AuditLog, CodeSequence, JobRun, Notification, Tenant, User
from accounts.roles import ROLE_CODES, TENANT_ADMIN, can_see_contact_details
from accounts.tenancy import current_tenant, tenant_scope, unscoped
from crm_project.logmask import mask_text
from crm_project.middleware import current_trace_id

logger = logging.getLogger(__name__)

# Values of these fields never reach the audit log in clear text.
_SECRET_FIELD = re.compile(r"password|secret|token|signature|api_key", re.IGNORECASE)
_PARTIAL_FIELD = re.compile(r"phone|mobile|email|wechat|amount", re.IGNORECASE)


def mask_value(field: str, value: Any) -> Any:
    """Mask a sensitive value: secrets entirely, contact details and amounts partly."""
    if value is None or value == "":
        return value
    if _SECRET_FIELD.search(field):
        return "***"
    if _PARTIAL_FIELD.search(field):
        text = str(value)
        if "@" in text:
            name, _sep, domain = text.partition("@")
            return f"{name[:1]}***@{domain}"
        if len(text) <= 4:
            return "***"
        return f"{text[:3]}***{text[-2:]}"
    return value


def _plain(value: Any) -> Any:
    """JSON-friendly form of a model field value."""
    if isinstance(value, models.Model):
        return value.pk
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (int, float, bool, str)) or value is None:
        return value
    return str(value)


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    changes: dict[str, tuple[Any, Any]] | None = None,
    request=None,
    tenant: Tenant | None = None,
) -> AuditLog:
    """Append one entry to the audit log. `changes` maps a field to (old, new); sensitive values are masked."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)[:200]
    masked = {
        field: {"old": mask_value(field, _plain(old)), "new": mask_value(field, _plain(new))}
        for field, (old, new) in (changes or {}).items()
    }
    entry_tenant = tenant or current_tenant() or getattr(actor, "tenant", None)
    entry = AuditLog(
        tenant=entry_tenant,
        # Portal users and integration keys name themselves (actor_name) but are not rows of the user table.
        actor=actor if isinstance(actor, User) and actor.pk else None,
        actor_name=(actor.get_username() if actor is not None else "")[:150],
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        object_repr=object_repr[:200],
        changes=masked,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=user_agent(request),
        trace_id=current_trace_id() if current_trace_id() != "-" else "",
    )
    # The entry names its tenant explicitly, so it is written whatever scope is active.
    with unscoped("audit entries carry their own tenant"):
        entry.save()
    return entry


def diff_fields(instance: models.Model, data: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The (old, new) pairs of the fields in `data` whose value would change on `instance`."""
    changes = {}
    for field, new in data.items():
        old = getattr(instance, field, None)
        if _plain(old) != _plain(new):
            changes[field] = (old, new)
    return changes


def client_ip(request) -> str | None:
    """The caller's address as Django saw it (the proxy setting decides whether forwarded headers count)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def user_agent(request) -> str:
    """The caller's User-Agent header, cut to the audit log's column (empty without a request)."""
    if request is None:
        return ""
    return (request.META.get("HTTP_USER_AGENT") or "")[:255]


def notify(
    user: User,
    kind: str,
    obj: models.Model | None,
    message: str,
    *,
    dedup_key: str | None = None,
    link: str = "",
    email: bool = True,
) -> Notification | None:
    """Tell a user something in-app (and by e-mail). With a `dedup_key`, the same key never notifies twice.

    Returns the new notification, or None when this key had already been delivered.
    """
    if not can_see_contact_details(user):
        # One masking rule on every surface: phone numbers and e-mail addresses in the text are masked.
        message = mask_text(message)
    notification = Notification(
        tenant=user.tenant,
        recipient=user,
        kind=kind,
        message=message[:500],
        link=link,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        dedup_key=dedup_key,
    )
    try:
        # A savepoint keeps the caller's transaction usable when the unique key says "already sent".
        with transaction.atomic(), tenant_scope(user.tenant):
            notification.save()
    except IntegrityError:
        return None
    if email and user.email:
        _send_notification_email(notification)
    return notification


def notify_many(items: list[tuple[User, str, models.Model | None, str, str | None, str]]) -> int:
    """`notify(user, kind, obj, message, dedup_key=..., link=..., email=False)` for many notifications at once:
    one bulk insert, a key already delivered is skipped (the unique key). In-app only (no e-mail). Returns the
    number of notifications asked for."""
    seeing: dict[int, bool] = {}
    rows = []
    for user, kind, obj, message, dedup_key, link in items:
        if user.pk not in seeing:
            seeing[user.pk] = can_see_contact_details(user)
        rows.append(
            Notification(
                tenant_id=user.tenant_id,
                recipient=user,
                kind=kind,
                message=(message if seeing[user.pk] else mask_text(message))[:500],
                link=link,
                object_type=obj._meta.label_lower if obj is not None else "",
                object_id=str(obj.pk) if obj is not None else "",
                dedup_key=dedup_key,
            )
        )
    with unscoped("notifications carry their recipient's tenant"):
        Notification.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


def _send_notification_email(notification: Notification) -> None:
    try:
        send_mail(
            subject=f"[CRM] {notification.message[:80]}",
            message=notification.message + (f"\n\n{notification.link}" if notification.link else ""),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[notification.recipient.email],
        )
    except Exception:  # a mail outage must not undo the in-app notification
        logger.exception("e-mail for notification %s failed", notification.pk)
        return
    with tenant_scope(notification.recipient.tenant):
        Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())


def notification_mark_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) unread notification of the user as read; returns how many."""
    queryset = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        queryset = queryset.filter(pk=notification_id)
    return queryset.update(read_at=timezone.now())


class JobCounts(dict):
    """The counts a job body fills; `beat()` is its heartbeat (call it per chunk: it also shows the progress)."""

    def __init__(self, run_id: int):
        super().__init__()
        self.run_id = run_id

    def beat(self) -> None:
        job_heartbeat(self.run_id, counts=dict(self))


class _Heartbeat(threading.Thread):
    """Touches the run's heartbeat every `interval` seconds while the job body runs (its own DB connection).

    A worker killed with SIGKILL takes this thread with it, so the heartbeat stops and the sweeper finds the run.
    """

    def __init__(self, run_id: int, interval: float):
        super().__init__(name=f"job-run-{run_id}-heartbeat", daemon=True)
        self.run_id = run_id
        self.interval = interval
        self.done = threading.Event()

    def run(self) -> None:
        from django.db import connections

        try:
            while not self.done.wait(self.interval):
                try:
                    job_heartbeat(self.run_id)
                except Exception:  # a missed beat is retried at the next interval; never kill the job for it
                    logger.warning("job run %s: heartbeat failed", self.run_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)


def job_heartbeat(run_id: int, counts: dict | None = None) -> bool:
    """Mark a running job run as alive now (and store its counts so far); False when it is no longer running."""
    fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if counts is not None:
        fields["counts"] = counts
    with unscoped("a job run's heartbeat, for any tenant"):
        return bool(JobRun.objects.filter(pk=run_id, status=JobRun.Status.RUNNING).update(**fields))


@contextmanager
def job_run(job_name: str, tenant: Tenant | None = None) -> Iterator[JobCounts]:
    """Record one run of a job. The block fills the yielded dict with counts; an exception marks it failed.

    While the block runs a heartbeat thread touches `heartbeat_at` every JOB_HEARTBEAT_SECONDS, so a run whose
    worker died is found by `job_runs_sweep`. A run the sweeper already marked abandoned that finishes after all
    is closed with its real outcome.
    """
    with unscoped("job runs are written for every tenant and for global jobs"):
        run = JobRun.objects.create(
            job_name=job_name, tenant=tenant, trace_id=current_trace_id(), heartbeat_at=timezone.now()
        )
    counts = JobCounts(run.pk)
    interval = getattr(settings, "JOB_HEARTBEAT_SECONDS", 60)
    heartbeat = _Heartbeat(run.pk, interval) if interval > 0 else None
    if heartbeat is not None:
        heartbeat.start()
    try:
        yield counts
    except Exception as exc:
        if heartbeat is not None:
            heartbeat.stop()
        with unscoped("closing a job run record"):
            JobRun.objects.filter(pk=run.pk).update(
                status=JobRun.Status.FAILED,
                finished_at=timezone.now(),
                counts=counts,
                error="".join(traceback.format_exception_only(exc)).strip()[:4000],
            )
        raise
    finally:
        if heartbeat is not None:
            heartbeat.stop()
    with unscoped("closing a job run record"):
        JobRun.objects.filter(pk=run.pk).update(
            status=JobRun.Status.SUCCEEDED, finished_at=timezone.now(), counts=counts, error=""
        )


WORKER_LOST = "worker lost: no heartbeat for more than {seconds} s (last sign of life {last}); marked abandoned"


def job_runs_sweep(*, now=None, stale_after: int | None = None) -> dict[str, int]:
    """Mark running job runs whose heartbeat (or start, without one) is older than the threshold as abandoned.

    Idempotent: an abandoned run is no longer `running`, so a second sweep changes nothing. Runs of every
    tenant are swept (a global job). A rerun of the same job is never blocked by an abandoned run.
    """
    now = now or timezone.now()
    stale_after = stale_after if stale_after is not None else getattr(settings, "JOB_ABANDONED_AFTER_SECONDS", 900)
    cutoff = now - timedelta(seconds=stale_after)
    stale = models.Q(heartbeat_at__lt=cutoff) | models.Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    abandoned = 0
    with unscoped("the sweeper closes job runs of every tenant"):
        for run in JobRun.objects.filter(stale, status=JobRun.Status.RUNNING).only("pk", "heartbeat_at", "started_at"):
            last = run.heartbeat_at or run.started_at
            error = WORKER_LOST.format(seconds=stale_after, last=last.isoformat(timespec="seconds"))
            # Conditional on the row still running: a run that closed meanwhile keeps its real outcome.
            abandoned += JobRun.objects.filter(stale, pk=run.pk, status=JobRun.Status.RUNNING).update(
                status=JobRun.Status.ABANDONED, finished_at=now, error=error
            )
    if abandoned:
        logger.warning("job runs marked abandoned (worker lost): %s", abandoned)
    return {"abandoned": abandoned}


class TenantExists(Exception):
    """`tenant_create` was asked for a name that is already taken."""


@transaction.atomic
def tenant_create(*, name: str, admin_username: str, admin_password: str, actor: User | None = None) -> Tenant:
    """Create a tenant with its first administrator (staff, role tenant_admin)."""
    name = name.strip()
    if not name:
        raise ValueError("tenant name must not be empty")
    if Tenant.objects.filter(name=name).exists():
        raise TenantExists(name)
    tenant = Tenant.objects.create(name=name)
    user_create(
        tenant=tenant, username=admin_username, password=admin_password, role=TENANT_ADMIN, is_staff=True, actor=actor
    )
    audit_record(action="crm.tenant.created", actor=actor, obj=tenant, tenant=tenant)
    return tenant


@transaction.atomic
def user_create(
    *,
    tenant: Tenant,
    username: str,
    password: str,
    role: str,
    email: str = "",
    display_name: str = "",
    is_staff: bool | None = None,
    actor: User | None = None,
) -> User:
    """Create a staff user of `tenant` with one role; the password is checked by the configured validators."""
    from django.contrib.auth.password_validation import validate_password

    if role not in ROLE_CODES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLE_CODES)}")
    user = User(
        tenant=tenant,
        username=username,
        email=email,
        display_name=display_name,
        is_staff=(role == TENANT_ADMIN) if is_staff is None else is_staff,
    )
    validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    audit_record(action="crm.user.created", actor=actor, obj=user, tenant=tenant, changes={"role": (None, role)})
    return user


def code_next(prefix: str, *, day=None) -> str:
    """The next code `PREFIX + YYYYMMDD + 4-digit daily sequence` of the active tenant; safe under concurrency."""
    return code_next_many(prefix, 1, day=day)[0]


def code_next_many(prefix: str, count: int, *, day=None) -> list[str]:
    """Reserve `count` consecutive codes at once (bulk import); safe under concurrent creates.

    One upsert increments the per-tenant, per-day counter and holds its row lock until the caller's
    transaction ends, so two creates never share a number and there is no read-then-insert race to
    deadlock on. Past 9999 in a day the number simply grows a digit.
    """
    tenant = current_tenant()
    if tenant is None:
        raise ValueError("codes are per tenant: call code_next_many inside tenant_scope()")
    day = day or timezone.localdate()
    table = connection.ops.quote_name(CodeSequence._meta.db_table)
    params = [tenant.pk, prefix, day, count]
    if connection.vendor == "mysql":
        upsert = (
            f"INSERT INTO {table} (tenant_id, prefix, day, last_value) VALUES (%s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE last_value = last_value + VALUES(last_value)"
        )
    else:
        upsert = (
            f"INSERT INTO {table} (tenant_id, prefix, day, last_value) VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT (tenant_id, prefix, day) DO UPDATE SET last_value = {table}.last_value + excluded.last_value"
        )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(upsert, params)
        cursor.execute(f"SELECT last_value FROM {table} WHERE tenant_id = %s AND prefix = %s AND day = %s", params[:3])
        last = cursor.fetchone()[0]
    first = last - count + 1
    return [f"{prefix}{day:%Y%m%d}{number:04d}" for number in range(first, first + count)]


# --- Who may sign in, and revoking tokens -------------------------------------------------------------------------
def account_refusal(user: User) -> str | None:
    """Why `user` may not use the product right now (a message for them), or None when they may."""
    from django.utils.translation import gettext as _

    if not user.is_active:
        return _("This account is deactivated.")
    tenant = getattr(user, "tenant", None)
    if tenant is not None and not tenant.is_active:
        return _("Your organisation's account is deactivated; contact your administrator.")
    return None


def user_tokens_revoke(*, user: User) -> int:
    """Blacklist every outstanding refresh token of `user` (password change or reset, deactivation).

    Access tokens die with them: they carry a hash of the password (checked on every request) and the
    user's and tenant's active flags are checked too. Returns how many refresh tokens were revoked.
    """
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    pending = list(
        OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    )
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in pending], ignore_conflicts=True)
    if pending:
        audit_record(
            action="crm.auth.tokens_revoked",
            obj=user,
            tenant=user.tenant,
            object_repr=f"{user.get_username()} ({len(pending)})",
        )
    return len(pending)
