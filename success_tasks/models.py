"""Customer-success tasks (PRD 3.2.7 `customer_success_tasks`), their comments, playbook rules and CSM profiles."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantOwnedModel
from customers.models import Customer
from success_tasks.choices import AssigneeStrategy, TaskPriority, TaskStatus, TaskType, Trigger


class PlaybookRule(TenantOwnedModel):
    """A tenant-editable rule: when `trigger` holds for a customer, open a task shaped by the action fields."""

    key = models.CharField(_("key"), max_length=50, null=True, blank=True, editable=False)  # default rules only
    name = models.CharField(_("name"), max_length=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    trigger = models.CharField(_("trigger"), max_length=30, choices=Trigger.choices)
    threshold = models.DecimalField(
        _("threshold (X / Y / N / K)"),
        max_digits=7,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100000)],
        help_text=_(
            "Health below X, drop of Y points, risk level N, renewal within N days, rating below X, K breaches."
        ),
    )
    window_days = models.PositiveSmallIntegerField(
        _("window (days)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Z days for a drop, N days without contact, the look-back of the nightly run."),
    )
    task_type = models.PositiveSmallIntegerField(_("task type"), choices=TaskType.choices, default=TaskType.HEALTH)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=TaskPriority.choices, default=TaskPriority.MEDIUM
    )
    title_template = models.CharField(_("title template"), max_length=200)
    description_template = models.TextField(_("description template"), blank=True, max_length=4000)
    due_in_days = models.PositiveSmallIntegerField(
        _("due in (days)"), default=7, validators=[MinValueValidator(0), MaxValueValidator(365)]
    )
    assignee_strategy = models.CharField(
        _("assignee"), max_length=20, choices=AssigneeStrategy.choices, default=AssigneeStrategy.MANAGER
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "success_playbook_rules"
        verbose_name = _("playbook rule")
        verbose_name_plural = _("playbook rules")
        ordering = ["trigger", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="uk_playbook_rule_key")]
        indexes = [models.Index(fields=["tenant", "enabled", "trigger"], name="idx_playbook_trigger")]

    def __str__(self) -> str:
        return self.name


class CustomerSuccessTask(TenantOwnedModel):
    """PRD 3.2.7. `open_rule` holds the rule while the task is open: one open task per rule and customer (DB)."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="success_tasks"
    )
    task_title = models.CharField(_("title"), max_length=200)
    task_description = models.TextField(_("description"), blank=True, max_length=10000)
    task_type = models.PositiveSmallIntegerField(_("type"), choices=TaskType.choices)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=TaskPriority.choices, default=TaskPriority.MEDIUM
    )
    status = models.PositiveSmallIntegerField(_("status"), choices=TaskStatus.choices, default=TaskStatus.PENDING)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        on_delete=models.PROTECT,
        related_name="+",
        db_column="assigned_to",
    )
    due_date = models.DateTimeField(_("due"), null=True, blank=True)
    completion_date = models.DateTimeField(_("completed at"), null=True, blank=True, editable=False)
    result = models.TextField(_("result"), blank=True, max_length=10000)
    effectiveness_score = models.DecimalField(
        _("effectiveness"),
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    auto_generated = models.BooleanField(_("auto-generated"), default=False, editable=False)
    trigger_condition = models.CharField(_("trigger condition"), max_length=200, blank=True, editable=False)
    # Beyond the PRD: which rule made it, the slot that keeps one open task per rule and customer, the event
    # that fired it (never twice for the same event), and the measured effect.
    rule = models.ForeignKey(PlaybookRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    open_rule = models.ForeignKey(
        PlaybookRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    trigger_key = models.CharField(max_length=100, null=True, blank=True, editable=False)
    health_at_completion = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True, editable=False)
    health_change = models.DecimalField(
        _("health change after 30 days"), max_digits=6, decimal_places=2, null=True, blank=True, editable=False
    )
    effectiveness_measured_at = models.DateTimeField(null=True, blank=True, editable=False)
    effectiveness_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "customer_success_tasks"
        verbose_name = _("customer-success task")
        verbose_name_plural = _("customer-success tasks")
        ordering = ["due_date", "-priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "open_rule"], name="uk_task_open_rule"),
            models.UniqueConstraint(fields=["rule", "customer", "trigger_key"], name="uk_task_trigger_key"),
        ]
        indexes = [
            models.Index(fields=["tenant", "customer"], name="idx_task_tenant_customer"),
            models.Index(fields=["assigned_to"], name="idx_assigned_to"),
            models.Index(fields=["status"], name="idx_status"),
            models.Index(fields=["due_date"], name="idx_due_date"),
            models.Index(fields=["tenant", "status", "assigned_to"], name="idx_task_board"),
        ]
        permissions = [
            ("reassign_customersuccesstask", _("Can reassign customer-success tasks")),
            ("rebalance_team", _("Can rebalance a team's tasks")),
        ]

    def __str__(self) -> str:
        return self.task_title

    @property
    def priority_badge(self) -> str:
        return {1: "badge-muted", 2: "badge-info", 3: "badge-warning", 4: "badge-danger"}.get(
            self.priority, "badge-muted"
        )

    @property
    def is_open(self) -> bool:
        return self.status in (TaskStatus.PENDING, TaskStatus.IN_PROGRESS)

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_date is not None and self.due_date < timezone.now()

    @property
    def is_due_today(self) -> bool:
        return (
            self.is_open
            and self.due_date is not None
            and not self.is_overdue
            and timezone.localtime(self.due_date).date() == timezone.localdate()
        )


class TaskComment(TenantOwnedModel):
    task = models.ForeignKey(CustomerSuccessTask, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(_("comment"), max_length=5000)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        db_table = "customer_success_task_comments"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["task", "created_at"], name="idx_task_comment")]

    def __str__(self) -> str:
        return self.body[:50]


class CsmProfile(TenantOwnedModel):
    """Team membership and absence of a staff user, for balanced assignment and rebalancing."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="csm_profile"
    )
    team = models.CharField(_("team"), max_length=100, blank=True)
    absent_until = models.DateField(_("absent until"), null=True, blank=True)

    class Meta:
        db_table = "success_csm_profiles"
        verbose_name = _("CSM profile")
        verbose_name_plural = _("CSM profiles")
        indexes = [models.Index(fields=["tenant", "team"], name="idx_csm_team")]

    def __str__(self) -> str:
        return f"{self.user} ({self.team})"

    def is_absent(self, today) -> bool:
        return self.absent_until is not None and self.absent_until >= today
