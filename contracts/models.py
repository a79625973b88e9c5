"""Contracts (PRD 3.2.3) and what hangs off them: SLA bindings, templates and clauses, versions and change
requests, milestones, invoices and payments, renewal reminders."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantManager, TenantOwnedModel, TenantQuerySet
from contracts.choices import (
    CURRENCIES,
    ChangeStatus,
    ContractStatus,
    ContractType,
    InvoiceStatus,
    MilestoneStatus,
    RenewalType,
    ServiceHours,
    TicketPriority,
)
from crm_project.crypto import EncryptedDecimalField, SealedJSONField

# JSON keys whose values are contract amounts (version snapshots, change requests): stored encrypted.
AMOUNT_KEYS = ("contract_amount",)


class ContractQuerySet(TenantQuerySet):
    def active(self):
        return self.filter(status=ContractStatus.ACTIVE)


class Contract(TenantOwnedModel):
    """A contract with a customer; its status moves draft → active → expired / terminated."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="contracts"
    )
    contract_code = models.CharField(_("contract code"), max_length=50, editable=False)
    contract_name = models.CharField(_("contract name"), max_length=200)
    contract_type = models.PositiveSmallIntegerField(
        _("contract type"), choices=ContractType.choices, default=ContractType.SERVICE
    )
    # Encrypted at rest (issue 15): sums, ranges and sorting run in Python (contracts.selectors.amount_totals).
    contract_amount = EncryptedDecimalField(_("contract amount"), max_digits=15, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=10, choices=CURRENCIES, default="CNY")
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    status = models.PositiveSmallIntegerField(_("status"), choices=ContractStatus.choices, default=ContractStatus.DRAFT)
    renewal_type = models.PositiveSmallIntegerField(
        _("renewal type"), choices=RenewalType.choices, default=RenewalType.MANUAL
    )
    renewal_notice_days = models.PositiveIntegerField(_("renewal notice (days)"), default=90)
    payment_terms = models.CharField(_("payment terms"), max_length=100, blank=True)
    service_level = models.CharField(_("service level"), max_length=100, blank=True)
    contract_file_url = models.CharField(_("contract file"), max_length=500, blank=True, editable=False)
    signed_date = models.DateField(_("signed date"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    predecessor = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="successor", editable=False
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    terminated_reason = models.TextField(_("termination reason"), blank=True, editable=False)
    terminated_at = models.DateTimeField(_("terminated at"), null=True, blank=True, editable=False)
    template = models.ForeignKey(
        "contracts.ContractTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    document_html = models.TextField(blank=True, editable=False)
    document_pdf = models.FileField(upload_to="contracts/%Y/%m/", blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TenantManager.from_queryset(ContractQuerySet)()

    class Meta:
        db_table = "customer_contracts"
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "contract_code"], name="uk_contract_code")]
        indexes = [
            models.Index(fields=["tenant", "customer"], name="idx_contract_tenant_customer"),
            models.Index(fields=["contract_code"], name="idx_contract_code"),
            models.Index(fields=["status"], name="idx_contract_status"),
            models.Index(fields=["end_date"], name="idx_contract_end_date"),
        ]
        permissions = [
            ("view_contract_amount", "Can see contract amounts"),
            ("sign_contract", "Can sign, terminate and renew contracts"),
            ("approve_changerequest", "Can approve contract changes"),
            ("export_contract", "Can export contracts"),
        ]

    def __str__(self) -> str:
        return f"{self.contract_code} {self.contract_name}"


class SlaPolicy(TenantOwnedModel):
    """A reusable SLA: per priority the first-response and resolution targets, service hours, availability."""

    name = models.CharField(_("name"), max_length=100)
    service_hours = models.CharField(
        _("service hours"), max_length=20, choices=ServiceHours.choices, default=ServiceHours.ALWAYS
    )
    business_calendar = models.JSONField(_("business calendar"), default=dict, blank=True)
    availability_target = models.DecimalField(
        _("availability target (%)"), max_digits=6, decimal_places=3, default=Decimal("99.900")
    )
    targets = models.JSONField(_("targets per priority"), default=dict, blank=True)

    class Meta:
        db_table = "sla_policies"
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uk_sla_policy_name")]

    def __str__(self) -> str:
        return self.name


class ContractSlaBinding(TenantOwnedModel):
    """What a contract grants for one ticket priority; the services app judges every ticket against it."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="sla_bindings")
    priority = models.CharField(_("priority"), max_length=4, choices=TicketPriority.choices)
    first_response_minutes = models.PositiveIntegerField(
        _("first response (minutes)"), validators=[MinValueValidator(1)]
    )
    resolution_minutes = models.PositiveIntegerField(_("resolution (minutes)"), validators=[MinValueValidator(1)])
    service_hours = models.CharField(
        _("service hours"), max_length=20, choices=ServiceHours.choices, default=ServiceHours.ALWAYS
    )
    business_calendar = models.JSONField(_("business calendar"), default=dict, blank=True)
    availability_target = models.DecimalField(
        _("availability target (%)"), max_digits=6, decimal_places=3, default=Decimal("99.900")
    )
    policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        db_table = "contract_sla_bindings"
        verbose_name = _("SLA binding")
        verbose_name_plural = _("SLA bindings")
        ordering = ["priority"]
        constraints = [models.UniqueConstraint(fields=["contract", "priority"], name="uk_contract_sla_priority")]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.priority}"


class Clause(TenantOwnedModel):
    """A reusable clause of the clause library."""

    title = models.CharField(_("title"), max_length=200)
    category = models.CharField(_("category"), max_length=50, blank=True)
    body = models.TextField(_("text"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        db_table = "contract_clauses"
        verbose_name = _("clause")
        verbose_name_plural = _("clause library")
        ordering = ["category", "title"]

    def __str__(self) -> str:
        return self.title


class ContractTemplate(TenantOwnedModel):
    """A document template with placeholders ({{ customer.customer_name }}, {{ sla_table }}, ...) and clauses."""

    name = models.CharField(_("name"), max_length=100)
    body = models.TextField(_("body"))
    clauses = models.ManyToManyField(Clause, through="TemplateClause", blank=True, related_name="templates")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        db_table = "contract_templates"
        verbose_name = _("contract template")
        verbose_name_plural = _("contract templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TemplateClause(TenantOwnedModel):
    template = models.ForeignKey(ContractTemplate, on_delete=models.CASCADE, related_name="template_clauses")
    clause = models.ForeignKey(Clause, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "contract_template_clauses"
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.template_id}:{self.clause_id}"


class ContractVersion(TenantOwnedModel):
    """A snapshot of a contract's terms; every applied change adds one, so versions can be diffed."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    snapshot = SealedJSONField(sealed_keys=AMOUNT_KEYS)  # the amount in it is a Fernet token at rest
    change_request = models.ForeignKey(
        "contracts.ChangeRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "contract_versions"
        ordering = ["contract", "version"]
        constraints = [models.UniqueConstraint(fields=["contract", "version"], name="uk_contract_version")]

    def __str__(self) -> str:
        return f"{self.contract_id} v{self.version}"


class ChangeRequest(TenantOwnedModel):
    """A proposed change (fields before/after, reason) waiting for an approver who is not the requester."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="change_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"))
    changes = SealedJSONField(_("changes"), sealed_keys=AMOUNT_KEYS)  # {"contract_amount": {"old", "new"}} sealed
    base_version = models.PositiveIntegerField()
    status = models.CharField(_("status"), max_length=20, choices=ChangeStatus.choices, default=ChangeStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "contract_change_requests"
        verbose_name = _("change request")
        verbose_name_plural = _("change requests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status"], name="idx_change_tenant_status")]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.status}"


class Milestone(TenantOwnedModel):
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(_("title"), max_length=200)
    due_date = models.DateField(_("due date"))
    status = models.CharField(
        _("status"), max_length=20, choices=MilestoneStatus.choices, default=MilestoneStatus.PENDING
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "contract_milestones"
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        ordering = ["due_date", "id"]

    def __str__(self) -> str:
        return self.title


class Invoice(TenantOwnedModel):
    """A bill of a contract; `external_id` is the finance system's id (upserts are idempotent on it)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="invoices")
    invoice_number = models.CharField(_("invoice number"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=15, decimal_places=2, validators=[MinValueValidator(0)])
    issue_date = models.DateField(_("issue date"))
    due_date = models.DateField(_("due date"))
    paid_date = models.DateField(_("paid date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.ISSUED)
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "contract_invoices"
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="uk_invoice_external"),
            models.UniqueConstraint(fields=["tenant", "invoice_number"], name="uk_invoice_number"),
        ]

    def __str__(self) -> str:
        return self.invoice_number


class Payment(TenantOwnedModel):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), max_digits=15, decimal_places=2, validators=[MinValueValidator(0)])
    paid_date = models.DateField(_("paid date"))
    method = models.CharField(_("method"), max_length=50, blank=True)
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "contract_payments"
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-paid_date", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "external_id"], name="uk_payment_external")]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.amount}"


class RenewalReminder(TenantOwnedModel):
    """One reminder per contract term (unique), also the "renewal follow-up" item the task engine picks up."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="renewal_reminders")
    term_end_date = models.DateField()
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "contract_renewal_reminders"
        constraints = [models.UniqueConstraint(fields=["contract", "term_end_date"], name="uk_renewal_reminder_term")]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.term_end_date}"
