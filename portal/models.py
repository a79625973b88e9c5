"""Customer self-service portal: accounts of customer contacts (not staff users), their one-time tokens,
the knowledge base, self-diagnosis checklists, success plans, suggestions, CSM messages and the delivery log
of the outgoing ticket webhook. Every row belongs to one tenant; everything under a customer names it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.validators import EmailValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantOwnedModel
from crm_project.crypto import BlindIndexField, EncryptedCharField
from customers.models import Customer, CustomerContact


class PortalAccount(TenantOwnedModel):
    """A contact's sign-in to the portal. Never a staff `User`: its own session key and password hash."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="portal_accounts"
    )
    # A removed contact ends access (the account stays for the audit trail).
    contact = models.ForeignKey(
        CustomerContact,
        verbose_name=_("contact"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="portal_accounts",
    )
    # Encrypted at rest like the contact's own e-mail; sign-in and uniqueness go through the blind index.
    email = EncryptedCharField(_("e-mail"), max_length=254, validators=[EmailValidator()])
    email_bidx = BlindIndexField(source="email", kind="email", unique=True)
    password = models.CharField(_("password"), max_length=128, blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    totp_secret = models.CharField(max_length=64, blank=True, editable=False)
    totp_enabled = models.BooleanField(_("two-step sign-in"), default=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_login_at = models.DateTimeField(_("last sign-in"), null=True, blank=True)
    created_at = models.DateTimeField(_("invited at"), auto_now_add=True)

    class Meta:
        db_table = "portal_accounts"
        verbose_name = _("portal account")
        verbose_name_plural = _("portal accounts")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email

    def set_password(self, raw: str) -> None:
        self.password = make_password(raw)

    def check_password(self, raw: str) -> bool:
        return bool(self.password) and check_password(raw, self.password)

    @property
    def has_password(self) -> bool:
        return bool(self.password)

    def get_username(self) -> str:
        """The audit log's actor name (the audit helper asks every actor for it): id and masked e-mail."""
        from crm_project.logmask import mask_email

        return f"portal:{mask_email(self.email)} #{self.pk}"


class TokenPurpose(models.TextChoices):
    INVITE = "invite", _("Invitation")
    RESET = "reset", _("Password reset")


class PortalToken(TenantOwnedModel):
    """A one-time link: only the SHA-256 of the secret is stored; used once, then spent."""

    account = models.ForeignKey(PortalAccount, on_delete=models.CASCADE, related_name="tokens")
    purpose = models.CharField(max_length=10, choices=TokenPurpose.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "portal_tokens"


class CsmMessage(TenantOwnedModel):
    """A message from the customer's success manager, shown on the portal's home page (the newest one)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_messages")
    body = models.TextField(_("message"), max_length=2000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("written at"), auto_now_add=True)

    class Meta:
        db_table = "portal_csm_messages"
        ordering = ["-created_at", "-id"]


class Suggestion(TenantOwnedModel):
    """A suggestion sent by a portal user; listed for staff on the customer page."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_suggestions")
    account = models.ForeignKey(PortalAccount, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField(_("suggestion"), max_length=4000)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        db_table = "portal_suggestions"
        ordering = ["-created_at", "-id"]


# --- Knowledge base -------------------------------------------------------------------------------------------------
class KbCategory(TenantOwnedModel):
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        db_table = "portal_kb_categories"
        verbose_name = _("knowledge base category")
        verbose_name_plural = _("knowledge base categories")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class KbArticle(TenantOwnedModel):
    category = models.ForeignKey(
        KbCategory, verbose_name=_("category"), on_delete=models.PROTECT, related_name="articles"
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT)
    # Lower-cased words of title and text, Chinese segmented by jieba, space separated (see portal/search.py).
    search_terms = models.TextField(editable=False, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "portal_kb_articles"
        verbose_name = _("knowledge base article")
        verbose_name_plural = _("knowledge base articles")
        ordering = ["category__position", "title"]

    def __str__(self) -> str:
        return self.title


class DiagnosisChecklist(TenantOwnedModel):
    """A guided self-diagnosis: steps to try one by one; ends in an article or a prefilled service request."""

    category = models.ForeignKey(KbCategory, verbose_name=_("category"), on_delete=models.PROTECT)
    title = models.CharField(_("title"), max_length=200)
    steps = models.JSONField(_("steps"), default=list, help_text=_("A list of steps, one short text each."))
    article = models.ForeignKey(
        KbArticle, verbose_name=_("article"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    request_type = models.CharField(_("request type"), max_length=20, default="incident")
    is_published = models.BooleanField(_("published"), default=False)

    class Meta:
        db_table = "portal_diagnosis_checklists"
        verbose_name = _("self-diagnosis checklist")
        verbose_name_plural = _("self-diagnosis checklists")
        ordering = ["category__position", "title"]

    def __str__(self) -> str:
        return self.title


# --- Success plan ---------------------------------------------------------------------------------------------------
class GoalStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ON_TRACK = "on_track", _("On track")
    AT_RISK = "at_risk", _("At risk")
    ACHIEVED = "achieved", _("Achieved")
    DROPPED = "dropped", _("Dropped")


class SuccessGoal(TenantOwnedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="success_goals")
    outcome = models.CharField(_("outcome"), max_length=200)
    measure = models.CharField(_("measure"), max_length=200)
    target_date = models.DateField(_("target date"))
    csm_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("our owner"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    customer_owner = models.ForeignKey(
        CustomerContact,
        verbose_name=_("customer's owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=10, choices=GoalStatus.choices, default=GoalStatus.PLANNED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "portal_success_goals"
        ordering = ["target_date", "id"]

    def __str__(self) -> str:
        return self.outcome


class Side(models.TextChoices):
    OURS = "ours", _("Our team")
    CUSTOMER = "customer", _("Customer")


class SuccessMilestone(TenantOwnedModel):
    goal = models.ForeignKey(SuccessGoal, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(_("milestone"), max_length=200)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    side = models.CharField(_("owner side"), max_length=10, choices=Side.choices, default=Side.OURS)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        db_table = "portal_success_milestones"
        ordering = ["due_date", "id"]

    def __str__(self) -> str:
        return self.title


class GoalComment(TenantOwnedModel):
    goal = models.ForeignKey(SuccessGoal, on_delete=models.CASCADE, related_name="comments")
    author_name = models.CharField(max_length=150)
    from_customer = models.BooleanField(default=False)
    body = models.TextField(_("comment"), max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "portal_goal_comments"
        ordering = ["created_at", "id"]


# --- Outgoing webhook to the ticket system ------------------------------------------------------------------------
class TicketWebhook(TenantOwnedModel):
    """Where portal requests are sent (one per tenant), signed with HMAC-SHA256 like the integration scheme."""

    url = models.URLField(_("URL"), max_length=500)
    key_id = models.CharField(_("key id"), max_length=64, default="portal")
    secret = models.CharField(_("secret"), max_length=128)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        db_table = "portal_ticket_webhooks"
        verbose_name = _("ticket system webhook")
        verbose_name_plural = _("ticket system webhooks")

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(TenantOwnedModel):
    """One portal request sent to the ticket system: attempts, the last error, the final state."""

    service_record = models.ForeignKey(
        "service_records.ServiceRecord", verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="+"
    )
    url = models.URLField(max_length=500)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        db_table = "portal_webhook_deliveries"
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
