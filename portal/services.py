"""Writes of the customer portal. Views, the admin, the command and tasks call these and hold no rule.

Portal users are not staff `User`s: their actions are audited with `PortalActor`, which names them
(`portal:<e-mail>`) without pointing the audit row's user column at a staff account.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record, notify
from accounts.tenancy import tenant_scope, unscoped
from crm_project.crypto import blind_index
from crm_project.logmask import mask_email
from customers.models import Customer, CustomerContact
from portal import search
from portal.models import (
    ArticleStatus,
    CsmMessage,
    DiagnosisChecklist,
    GoalComment,
    KbArticle,
    KbCategory,
    PortalAccount,
    PortalToken,
    Side,
    SuccessGoal,
    SuccessMilestone,
    Suggestion,
    TicketWebhook,
    TokenPurpose,
)

INVITE_HOURS = 72
RESET_HOURS = 2


class PortalActor:
    """The audit log's view of a portal user: a name and a tenant, never a staff user row."""

    pk = None
    is_authenticated = True

    def __init__(self, account: PortalAccount):
        self.account = account
        self.tenant = account.tenant

    def get_username(self) -> str:
        return account_name(self.account)

    def has_perm(self, perm, obj=None) -> bool:
        return False


def account_name(account: PortalAccount) -> str:
    """The audit actor of a portal account: its id and masked e-mail (the audit log holds no clear contact data)."""
    return f"portal:{mask_email(account.email)} #{account.pk}"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _audit(action: str, account: PortalAccount, obj=None, request=None, changes=None, **extra) -> None:
    audit_record(
        action=action,
        actor=PortalActor(account),
        obj=obj if obj is not None else account,
        request=request,
        changes=changes,
        tenant=account.tenant,
        **extra,
    )


# --- Accounts, invitations and passwords --------------------------------------------------------------------------
def token_issue(*, account: PortalAccount, purpose: str, hours: int) -> str:
    """A new one-time link secret; earlier unused tokens of the same purpose stop working."""
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    with tenant_scope(account.tenant):
        PortalToken.objects.filter(account=account, purpose=purpose, used_at__isnull=True).update(used_at=now)
        PortalToken.objects.create(
            account=account, purpose=purpose, token_hash=_hash(raw), expires_at=now + timedelta(hours=hours)
        )
    return raw


def token_find(raw: str) -> PortalToken | None:
    """The usable token for this secret (not spent, not expired), or None."""
    if not raw or len(raw) > 200:
        return None
    with unscoped("a one-time link names its token; the tenant is read from it"):
        token = (
            PortalToken.objects.select_related("account", "account__customer", "account__tenant")
            .filter(token_hash=_hash(raw), used_at__isnull=True, expires_at__gt=timezone.now())
            .first()
        )
    return token


def _set_password_url(raw: str) -> str:
    return reverse("portal:set_password", args=[raw])


@transaction.atomic
def account_invite(
    *, actor: User | None, customer: Customer, email: str, request=None, send: bool = True
) -> tuple[PortalAccount, str]:
    """Invite the customer's contact with this e-mail; returns the account and the one-time link path (72 h)."""
    email = (email or "").strip().lower()
    contact = (
        CustomerContact.objects.filter(customer=customer, email_bidx=blind_index("email", email)).first()
        if email
        else None
    )
    if contact is None:
        raise ValidationError({"email": [_("No contact of this customer has this e-mail address.")]})
    with unscoped("portal e-mail addresses are unique across tenants"):
        existing = PortalAccount.objects.filter(email_bidx=blind_index("email", email)).first()
    if existing is not None and (existing.tenant_id != customer.tenant_id or existing.customer_id != customer.pk):
        raise ValidationError({"email": [_("This e-mail address already has a portal account elsewhere.")]})
    account = existing or PortalAccount(customer=customer, email=email)
    account.contact = contact
    account.is_active = True
    account.invited_by = actor if actor is not None and actor.pk else None
    account.full_clean(exclude=["tenant", "customer", "contact", "invited_by", "email"] if existing else ["tenant"])
    account.save()
    raw = token_issue(account=account, purpose=TokenPurpose.INVITE, hours=INVITE_HOURS)
    audit_record(
        action="crm.portal.invited", actor=actor, obj=customer, request=request, changes={"portal_email": (None, email)}
    )
    path = _set_password_url(raw)
    if send:
        base = getattr(settings, "PORTAL_BASE_URL", "") or (request.build_absolute_uri("/")[:-1] if request else "")
        send_mail(
            _("Your customer portal invitation"),
            _("You have been invited to the customer portal. Set your password within 72 hours: %(link)s")
            % {"link": base + path},
            None,
            [email],
            fail_silently=True,
        )
    return account, path


@transaction.atomic
def account_deactivate(*, actor: User, account: PortalAccount, request=None) -> None:
    account.is_active = False
    account.save(update_fields=["is_active"])
    audit_record(action="crm.portal.deactivated", actor=actor, obj=account.customer, request=request,
                 changes={"portal_email": (account.email, None)})  # fmt: skip


@transaction.atomic
def password_set(*, token: PortalToken, password: str, request=None) -> PortalAccount:
    """Spend the one-time link and set the password (Django's password rules apply)."""
    account = token.account
    try:
        validate_password(password)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    with tenant_scope(account.tenant):
        spent = PortalToken.objects.filter(pk=token.pk, used_at__isnull=True).update(used_at=timezone.now())
        if not spent:
            raise ValidationError({"password": [_("This link has already been used.")]})
        account.set_password(password)
        account.save(update_fields=["password"])
        _audit("crm.portal.password_set", account, request=request)
    return account


def reset_request(*, email: str, request=None) -> str | None:
    """Send a reset link if an account may sign in with this e-mail; returns the path (None otherwise).

    The page answers the same either way, so it does not reveal which addresses have accounts.
    """
    from portal.auth import account_may_enter

    with unscoped("sign-in looks the e-mail up before any tenant is known"):
        account = (
            PortalAccount.objects.select_related("customer", "tenant")
            .filter(email_bidx=blind_index("email", email))
            .first()
        )
    if account is None or not account_may_enter(account):
        return None
    raw = token_issue(account=account, purpose=TokenPurpose.RESET, hours=RESET_HOURS)
    path = _set_password_url(raw)
    base = request.build_absolute_uri("/")[:-1] if request else ""
    send_mail(
        _("Reset your customer portal password"),
        _("Set a new password within 2 hours: %(link)s") % {"link": base + path},
        None,
        [account.email],
        fail_silently=True,
    )
    _audit("crm.portal.reset_requested", account, request=request)
    return path


def authenticate(*, email: str, password: str) -> PortalAccount | None:
    """The account for these credentials if it may enter the portal; staff users are never looked at."""
    from portal.auth import account_may_enter

    with unscoped("sign-in looks the e-mail up before any tenant is known"):
        account = (
            PortalAccount.objects.select_related("customer", "contact", "tenant")
            .filter(email_bidx=blind_index("email", (email or "")[:254]))
            .first()
        )
    if account is None:
        PortalAccount().set_password(password or "")  # same work as a real check: no timing difference
        return None
    if not account.check_password(password or "") or not account_may_enter(account):
        return None
    return account


def login_recorded(*, account: PortalAccount, request=None) -> None:
    with tenant_scope(account.tenant):
        account.last_login_at = timezone.now()
        account.save(update_fields=["last_login_at"])
        _audit("crm.portal.login", account, request=request)


def login_failed(*, email: str, request=None) -> None:
    with unscoped("sign-in looks the e-mail up before any tenant is known"):
        account = (
            PortalAccount.objects.select_related("tenant")
            .filter(email_bidx=blind_index("email", (email or "")[:254]))
            .first()
        )
    if account is not None:
        _audit("crm.portal.login_failed", account, request=request)


def totp_verify(account: PortalAccount, code: str, secret: str | None = None) -> bool:
    import pyotp

    secret = secret or account.totp_secret
    code = (code or "").strip().replace(" ", "")
    return bool(secret) and code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


def totp_new_secret() -> str:
    import pyotp

    return pyotp.random_base32()


@transaction.atomic
def totp_enable(*, account: PortalAccount, secret: str, code: str, request=None) -> None:
    if not totp_verify(account, code, secret):
        raise ValidationError({"code": [_("The code is not right. Check the time on your phone and try again.")]})
    account.totp_secret = secret
    account.totp_enabled = True
    account.save(update_fields=["totp_secret", "totp_enabled"])
    _audit("crm.portal.totp_enabled", account, request=request)


@transaction.atomic
def totp_disable(*, account: PortalAccount, code: str, request=None) -> None:
    if not totp_verify(account, code):
        raise ValidationError({"code": [_("The code is not right.")]})
    account.totp_secret = ""
    account.totp_enabled = False
    account.save(update_fields=["totp_secret", "totp_enabled"])
    _audit("crm.portal.totp_disabled", account, request=request)


# What a portal request did, by method (a view marks a download with `mark_download`).
REQUEST_ACTIONS = {"download": "crm.portal.downloaded", "read": "crm.portal.viewed", "write": "crm.portal.submitted"}
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def mark_download(request) -> None:
    """The request's audit row says "document downloaded" instead of "page viewed"."""
    request.portal_audit_kind = "download"


def request_audited(*, account: PortalAccount, request, status: int) -> None:
    """One audit row per request of a signed-in portal user (pages, downloads, forms; refused ones too):
    the account and its contact and customer, the view and the ids in the URL, the method and the answer's
    status; the audit row itself holds the time, IP address and user agent. One INSERT, no other query."""
    kind = getattr(request, "portal_audit_kind", None) or ("read" if request.method in READ_METHODS else "write")
    match = getattr(request, "resolver_match", None)
    facts = {
        "view": (None, match.view_name if match is not None else request.path[:200]),
        "method": (None, request.method),
        "status": (None, status),
        "customer": (None, account.customer_id),
        "contact": (None, account.contact_id),
    }
    if match is not None:
        facts.update({name: (None, str(value)[:64]) for name, value in match.kwargs.items()})
    audit_record(
        action=REQUEST_ACTIONS[kind],
        actor=PortalActor(account),
        obj=account,
        object_repr=account.email,
        request=request,
        changes=facts,
        tenant=account.tenant,
    )


# --- Requests, ratings, feedback ----------------------------------------------------------------------------------
def request_create(*, account: PortalAccount, request_type, data: dict[str, Any], request=None):
    """A service request from the portal: a service record (source and channel "portal"), the manager is
    notified, and the ticket system receives it through the signed webhook (a Celery task with retries)."""
    from service_records.choices import Channel
    from service_records.services import PORTAL_SOURCE, record_create

    customer = account.customer
    description = request_type.describe(data)
    with transaction.atomic():
        record = record_create(
            actor=PortalActor(account),
            customer=customer,
            source_system=PORTAL_SOURCE,
            data={
                "title": data["title"],
                "description": description,
                "category": request_type.category,
                "priority": request_type.priority(data),
                "channel": Channel.PORTAL,
            },
            request=request,
        )
        _audit("crm.portal.request_created", account, obj=record, request=request,
               changes={"request_type": (None, request_type.key)})  # fmt: skip
        manager = customer.assigned_manager
        if manager is not None:
            notify(
                manager,
                "portal_request",
                record,
                _("New service request from the portal: %(title)s (%(customer)s)")
                % {"title": record.title, "customer": customer.customer_name},
                dedup_key=f"portal-request:{record.pk}",
                link=reverse("service_records:record_detail", args=[record.pk]) if _has_detail() else "",
            )
        # Sent through the outgoing-webhooks path (signed, retried with backoff, circuit breaker, delivery log
        # with replay), queued when the request commits.
        delivery_create(record=record, request_type=request_type.key, contact=account.email)
    return record


def _has_detail() -> bool:
    from django.urls import NoReverseMatch

    try:
        reverse("service_records:record_detail", args=[1])
    except NoReverseMatch:
        return False
    return True


def delivery_create(*, record, request_type: str, contact: str):
    """The portal request for the tenant's ticket-system webhook, as a built-in target of the webhooks app
    (`webhooks.models.WebhookDelivery`, source "portal"); None when no webhook is set."""
    from webhooks.services import deliver_to_target

    webhook = TicketWebhook.objects.filter(is_active=True).first()
    if webhook is None:
        return None
    payload = {
        "event": "portal.request_created",
        "ticket": {
            "external_id": record.external_id,
            "title": record.title,
            "description": record.description,
            "category": record.category,
            "priority": record.priority,
            "request_type": request_type,
            "opened_at": timezone.localtime(record.opened_at).strftime("%Y-%m-%d %H:%M:%S"),
        },
        "customer": {"code": record.customer.customer_code, "name": record.customer.customer_name},
        "contact_email": contact,
    }
    return deliver_to_target(
        tenant_id=record.tenant_id,
        url=webhook.url,
        key_id=webhook.key_id,
        secret=webhook.secret,
        event_type="portal.request_created",
        data=payload,
        source="portal",
    )


def ticket_rate(*, account: PortalAccount, record, data: dict[str, Any], request=None):
    """The customer rates a closed or resolved ticket through the service records' rating service."""
    from service_records.choices import TicketStatus
    from service_records.services import rating_set

    if record.status not in (TicketStatus.CLOSED, TicketStatus.RESOLVED):
        raise ValidationError({"satisfaction_overall": [_("Only a resolved or closed ticket can be rated.")]})
    with transaction.atomic():
        record = rating_set(actor=PortalActor(account), record=record, data=data, request=request)
        _audit("crm.portal.ticket_rated", account, obj=record, request=request)
    return record


def nps_answer(*, account: PortalAccount, score: int, reason: str, request=None):
    from service_records.services import nps_record

    with transaction.atomic():
        response = nps_record(
            actor=PortalActor(account),
            customer=account.customer,
            contact=account.contact,
            score=score,
            reason=reason,
            request=request,
        )
        _audit("crm.portal.nps_answered", account, obj=account.customer, request=request,
               changes={"nps": (None, score)})  # fmt: skip
    return response


@transaction.atomic
def suggestion_send(*, account: PortalAccount, body: str, request=None) -> Suggestion:
    suggestion = Suggestion(customer=account.customer, account=account, body=(body or "").strip())
    suggestion.full_clean(exclude=["tenant", "customer", "account"])
    suggestion.save()
    _audit("crm.portal.suggestion_sent", account, obj=account.customer, request=request)
    manager = account.customer.assigned_manager
    if manager is not None:
        notify(
            manager,
            "portal_suggestion",
            account.customer,
            _("New suggestion from the portal (%(customer)s)") % {"customer": account.customer.customer_name},
            dedup_key=f"portal-suggestion:{suggestion.pk}",
            email=False,
        )
    return suggestion


@transaction.atomic
def message_post(*, actor: User, customer: Customer, body: str, request=None) -> CsmMessage:
    message = CsmMessage(customer=customer, author=actor, body=(body or "").strip())
    message.full_clean(exclude=["tenant", "customer", "author"])
    message.save()
    audit_record(action="crm.portal.message_posted", actor=actor, obj=customer, request=request)
    return message


# --- Success plan ---------------------------------------------------------------------------------------------------
GOAL_FIELDS = ("outcome", "measure", "target_date", "csm_owner", "customer_owner", "status")


@transaction.atomic
def goal_save(
    *, actor: User, customer: Customer, data: dict[str, Any], goal: SuccessGoal | None = None, request=None
) -> SuccessGoal:
    """Staff create or edit a success goal agreed with the customer."""
    goal = goal or SuccessGoal(customer=customer)
    if goal.customer_id != customer.pk:
        raise ValidationError({"outcome": [_("This goal belongs to another customer.")]})
    owner = data.get("customer_owner")
    if owner is not None and owner.customer_id != customer.pk:
        raise ValidationError({"customer_owner": [_("This contact belongs to another customer.")]})
    changes = {}
    for name in GOAL_FIELDS:
        if name in data and getattr(goal, name) != data[name]:
            changes[name] = (str(getattr(goal, name) or ""), str(data[name] or ""))
            setattr(goal, name, data[name])
    goal.full_clean(exclude=["tenant", "customer", "csm_owner", "customer_owner"])
    goal.save()
    audit_record(action="crm.portal.goal_saved", actor=actor, obj=goal, request=request, changes=changes)
    return goal


@transaction.atomic
def milestone_save(*, actor: User, goal: SuccessGoal, data: dict[str, Any], request=None) -> SuccessMilestone:
    milestone = SuccessMilestone(
        goal=goal, title=data.get("title", ""), due_date=data.get("due_date"), side=data.get("side") or Side.OURS
    )
    milestone.full_clean(exclude=["tenant", "goal"])
    milestone.save()
    audit_record(action="crm.portal.milestone_saved", actor=actor, obj=goal, request=request,
                 changes={"milestone": (None, milestone.title)})  # fmt: skip
    return milestone


@transaction.atomic
def milestone_done(
    *, milestone: SuccessMilestone, done: bool, actor: User | None = None, account: PortalAccount | None = None,
    request=None,
) -> SuccessMilestone:  # fmt: skip
    """Mark a milestone done (or not). A portal user may only tick the customer's own actions."""
    if account is not None and milestone.side != Side.CUSTOMER:
        raise ValidationError({"milestone": [_("Only your own actions can be marked done here.")]})
    milestone.done_at = timezone.now() if done else None
    milestone.save(update_fields=["done_at"])
    who = PortalActor(account) if account is not None else actor
    audit_record(action="crm.portal.milestone_done", actor=who, obj=milestone.goal, request=request,
                 changes={milestone.title[:60]: (not done, done)}, tenant=milestone.tenant)  # fmt: skip
    return milestone


@transaction.atomic
def goal_comment(
    *, goal: SuccessGoal, body: str, actor: User | None = None, account: PortalAccount | None = None, request=None
) -> GoalComment:
    who = PortalActor(account) if account is not None else actor
    name = account.contact.contact_name if account is not None and account.contact else who.get_username()
    comment = GoalComment(
        goal=goal, body=(body or "").strip(), author_name=name[:150], from_customer=account is not None
    )
    comment.full_clean(exclude=["tenant", "goal"])
    comment.save()
    audit_record(action="crm.portal.goal_commented", actor=who, obj=goal, request=request, tenant=goal.tenant)
    return comment


# --- Knowledge base -------------------------------------------------------------------------------------------------
@transaction.atomic
def article_save(*, actor: User, data: dict[str, Any], article: KbArticle | None = None, request=None) -> KbArticle:
    article = article or KbArticle(author=actor)
    for name in ("category", "title", "body", "status"):
        if name in data:
            setattr(article, name, data[name])
    article.search_terms = search.index_text(article.title, article.body)
    article.full_clean(exclude=["tenant", "author"])
    article.save()
    audit_record(action="crm.portal.article_saved", actor=actor, obj=article, request=request,
                 changes={"status": (None, article.status)})  # fmt: skip
    return article


@transaction.atomic
def article_publish(*, actor: User, article: KbArticle, published: bool, request=None) -> KbArticle:
    """Publish an article (customers see it in the portal) or take it back to draft."""
    status = ArticleStatus.PUBLISHED if published else ArticleStatus.DRAFT
    if article.status == status:
        return article
    old = article.status
    article.status = status
    article.save(update_fields=["status", "updated_at"])
    audit_record(action="crm.portal.article_published", actor=actor, obj=article, request=request,
                 changes={"status": (old, status)})  # fmt: skip
    return article


@transaction.atomic
def category_save(*, actor: User, data: dict[str, Any], category: KbCategory | None = None, request=None) -> KbCategory:
    """Create or rename a knowledge-base category; names are unique per tenant (case-insensitive)."""
    category = category or KbCategory()
    name = (data.get("name") or "").strip()
    taken = KbCategory.objects.filter(name__iexact=name).exclude(pk=category.pk).exists()
    if taken:
        raise ValidationError({"name": [_("Another category already has this name.")]})
    changes = {}
    for field, value in (("name", name), ("position", data.get("position") or 0)):
        if getattr(category, field) != value:
            changes[field] = (getattr(category, field) if category.pk else None, value)
            setattr(category, field, value)
    category.full_clean(exclude=["tenant"])
    category.save()
    audit_record(action="crm.portal.category_saved", actor=actor, obj=category, request=request, changes=changes)
    return category


CHECKLIST_FIELDS = ("category", "title", "steps", "article", "request_type", "is_published")


@transaction.atomic
def checklist_save(
    *, actor: User, data: dict[str, Any], checklist: DiagnosisChecklist | None = None, request=None
) -> DiagnosisChecklist:
    """Create or edit a self-diagnosis checklist. A published one needs at least one step, and the article it
    ends in must be published too (the portal would otherwise link to a page customers cannot open)."""
    from portal.forms import REQUEST_TYPES

    checklist = checklist or DiagnosisChecklist()
    changes = {}
    for name in CHECKLIST_FIELDS:
        old = getattr(checklist, name, None) if checklist.pk or name not in ("category", "article") else None
        if name in data and old != data[name]:
            changes[name] = (str(old) if old is not None else None, str(data[name]))
            setattr(checklist, name, data[name])
    checklist.steps = [str(step).strip() for step in (checklist.steps or []) if str(step).strip()]
    errors: dict[str, list] = {}
    if checklist.request_type not in REQUEST_TYPES:
        errors["request_type"] = [_("Choose one of the standard request types.")]
    if checklist.is_published and not checklist.steps:
        errors["steps"] = [_("A published checklist needs at least one step.")]
    if checklist.is_published and checklist.article is not None and checklist.article.status != ArticleStatus.PUBLISHED:
        errors["article"] = [_("Publish the article first: customers cannot open a draft.")]
    if errors:
        raise ValidationError(errors)
    checklist.full_clean(exclude=["tenant"])
    checklist.save()
    audit_record(action="crm.portal.checklist_saved", actor=actor, obj=checklist, request=request, changes=changes)
    return checklist
