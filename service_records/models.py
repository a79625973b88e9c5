"""Service records (PRD 3.1 `customer_service_records`, columns from 2.1.3 and 5.3.1), NPS answers, reports.

A record is a ticket of the ticket system (or one entered by staff). The SLA targets, service hours and
calendar are COPIED from the contract's binding when the ticket arrives, so a later contract change does
not rewrite history; due times and breach flags are computed from that copy (service_records.sla).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantOwnedModel
from contracts.choices import TicketPriority
from service_records.choices import Channel, ReportKind, ReportStatus, SlaState, TicketStatus

RATING = [MinValueValidator(1), MaxValueValidator(5)]


class ServiceRecord(TenantOwnedModel):
    """One ticket of a customer with its SLA outcome and the customer's rating."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="service_records"
    )
    contract = models.ForeignKey(
        "contracts.Contract",
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_records",
    )
    source_system = models.CharField(_("source system"), max_length=50)
    external_id = models.CharField(_("external ticket id"), max_length=100)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(_("category"), max_length=50, blank=True)
    priority = models.CharField(_("priority"), max_length=4, choices=TicketPriority.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=TicketStatus.choices, default=TicketStatus.OPEN)
    opened_at = models.DateTimeField(_("opened at"))
    # The local month of opened_at (its first day): monthly trends group by it in one pass, on every backend.
    opened_month = models.DateField(_("month"), editable=False, null=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    handling_minutes = models.PositiveIntegerField(_("handling minutes"), null=True, blank=True)
    solution = models.TextField(_("solution"), blank=True)
    assignee = models.CharField(_("assignee"), max_length=100, blank=True)
    # SLA copied from the binding at arrival (None: no contract or no binding for the priority).
    sla_first_response_minutes = models.PositiveIntegerField(
        _("first response target (minutes)"), null=True, blank=True
    )
    sla_resolution_minutes = models.PositiveIntegerField(_("resolution target (minutes)"), null=True, blank=True)
    sla_service_hours = models.CharField(_("service hours"), max_length=20, blank=True)
    sla_business_calendar = models.JSONField(_("business calendar"), default=dict, blank=True)
    response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True, editable=False)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True, editable=False)
    # Wall-clock minutes from opening to first response / resolution (what the statistics average).
    response_minutes = models.PositiveIntegerField(_("response minutes"), null=True, blank=True, editable=False)
    resolution_minutes = models.PositiveIntegerField(_("resolution minutes"), null=True, blank=True, editable=False)
    response_breached = models.BooleanField(_("first response breached"), default=False, editable=False)
    resolution_breached = models.BooleanField(_("resolution breached"), default=False, editable=False)
    breached = models.BooleanField(_("breached"), default=False, editable=False)
    # How far past its due time the worst-missed target was (minutes; as of the last computation).
    breach_minutes = models.PositiveIntegerField(_("minutes over target"), null=True, blank=True, editable=False)
    sla_state = models.CharField(
        _("SLA state"), max_length=20, choices=SlaState.choices, default=SlaState.NONE, editable=False
    )
    satisfaction_overall = models.PositiveSmallIntegerField(_("overall"), null=True, blank=True, validators=RATING)
    satisfaction_response_speed = models.PositiveSmallIntegerField(
        _("response speed"), null=True, blank=True, validators=RATING
    )
    satisfaction_professionalism = models.PositiveSmallIntegerField(
        _("professionalism"), null=True, blank=True, validators=RATING
    )
    satisfaction_resolution_quality = models.PositiveSmallIntegerField(
        _("resolution quality"), null=True, blank=True, validators=RATING
    )
    satisfaction_comment = models.TextField(_("comment"), blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "customer_service_records"
        verbose_name = _("service record")
        verbose_name_plural = _("service records")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "source_system", "external_id"], name="uk_service_record_ext")
        ]
        indexes = [
            # A customer's list and statistics: its tickets by opening time.
            models.Index(fields=["tenant", "customer", "opened_at"], name="idx_sr_customer_opened"),
            # The tenant-wide page and reports over a period.
            models.Index(fields=["tenant", "opened_at"], name="idx_sr_tenant_opened"),
            models.Index(fields=["tenant", "opened_month"], name="idx_sr_tenant_month"),
            # The breach scan: open tickets with a due time.
            models.Index(fields=["tenant", "status", "resolution_due_at"], name="idx_sr_scan"),
            models.Index(fields=["customer", "status"], name="idx_sr_customer_status"),
            models.Index(fields=["customer", "breached", "opened_at"], name="idx_sr_customer_breached"),
            models.Index(fields=["contract", "opened_at"], name="idx_sr_contract_opened"),
            # The tenant page's worst customers and breaches: the breached tickets of a period, index only.
            models.Index(
                fields=["tenant", "breached", "opened_at", "customer", "breach_minutes"], name="idx_sr_tenant_breached2"
            ),
        ]
        permissions = [("rate_servicerecord", "Can enter satisfaction ratings and NPS answers")]

    def __str__(self) -> str:
        return f"{self.external_id} {self.title}"

    @property
    def has_target(self) -> bool:
        return self.sla_first_response_minutes is not None or self.sla_resolution_minutes is not None

    @property
    def is_open(self) -> bool:
        return self.status in (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)


class NpsResponse(TenantOwnedModel):
    """One contact's answer to "how likely would you recommend us" (0-10) with the reason."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="nps_responses"
    )
    contact = models.ForeignKey(
        "customers.CustomerContact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="nps_responses",
    )
    score = models.PositiveSmallIntegerField(_("score"), validators=[MinValueValidator(0), MaxValueValidator(10)])
    reason = models.TextField(_("reason"), blank=True)
    responded_at = models.DateTimeField(_("answered at"))
    responded_month = models.DateField(editable=False, null=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "customer_nps_responses"
        verbose_name = _("NPS answer")
        verbose_name_plural = _("NPS answers")
        ordering = ["-responded_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "customer", "responded_at"], name="idx_nps_customer_time"),
            models.Index(fields=["tenant", "responded_at"], name="idx_nps_tenant_time"),
            # Tenant-wide NPS and its monthly trend read the index only (score, and customer for deleted ones).
            models.Index(fields=["tenant", "responded_at", "score", "customer"], name="idx_nps_tenant_score"),
            models.Index(fields=["tenant", "responded_month", "score", "customer"], name="idx_nps_tenant_month"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.score}"

    def save(self, *args, **kwargs):
        from django.utils import timezone

        self.responded_month = timezone.localdate(self.responded_at).replace(day=1)
        super().save(*args, **kwargs)


def report_upload_to(report: ServiceReport, filename: str) -> str:
    return f"service_reports/{report.tenant_id}/{report.customer_id}/{filename}"


class ServiceReport(TenantOwnedModel):
    """A customer's service report for a period (PDF + XLSX), generated in the background and archived."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="service_reports"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ReportKind.choices, default=ReportKind.ON_DEMAND)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    status = models.CharField(_("status"), max_length=20, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    pdf_file = models.FileField(upload_to=report_upload_to, blank=True, max_length=300)
    xlsx_file = models.FileField(upload_to=report_upload_to, blank=True, max_length=300)
    error = models.TextField(blank=True)
    # "monthly:2026-03" for a scheduled report (one per customer and period); NULL for on-demand ones.
    schedule_key = models.CharField(max_length=40, null=True, blank=True, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        db_table = "customer_service_reports"
        verbose_name = _("service report")
        verbose_name_plural = _("service reports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer", "schedule_key"], name="uk_service_report_schedule")
        ]
        indexes = [models.Index(fields=["tenant", "customer", "created_at"], name="idx_report_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.period_start}..{self.period_end}"


# --- Rollups (tenant-wide figures without reading every ticket; service_records.rollup) ---------------------------
def _counter(label):
    return models.IntegerField(label, default=0, editable=False)


SPANS = [("d", _("day")), ("m", _("month"))]


class ServiceDailyRollup(TenantOwnedModel):
    """Counters of the tickets opened on one local day (span "d") or in one month (span "m", `day` = its first
    day), per category and priority, for the tenant-wide figures: a period reads the day rows of its first,
    partial month and the month rows after it.

    Additive only (counts and sums), kept by `service_records.rollup` in the same transaction as every ticket
    write (increments of the old and new contribution of each changed ticket), and rebuilt from the tickets by
    the idempotent job `service_records.rebuild_rollups`.
    """

    span = models.CharField(_("span"), max_length=1, choices=SPANS, default="d", editable=False)
    day = models.DateField(_("day"), editable=False)
    category = models.CharField(_("category"), max_length=50, blank=True, editable=False)
    priority = models.CharField(_("priority"), max_length=4, editable=False)
    tickets = _counter(_("tickets"))
    open_tickets = _counter(_("open"))
    with_target = _counter(_("with a target"))
    response_judged = _counter(_("first response judged"))
    response_met = _counter(_("first response met"))
    resolution_judged = _counter(_("resolution judged"))
    resolution_met = _counter(_("resolution met"))
    breaches = _counter(_("breaches"))
    rated = _counter(_("rated"))
    overall_1 = _counter("overall = 1")
    overall_2 = _counter("overall = 2")
    overall_3 = _counter("overall = 3")
    overall_4 = _counter("overall = 4")
    overall_5 = _counter("overall = 5")
    sum_overall = _counter(_("sum of overall ratings"))
    sum_response_speed = _counter(_("sum of response speed ratings"))
    rated_response_speed = _counter(_("response speed ratings"))
    sum_professionalism = _counter(_("sum of professionalism ratings"))
    rated_professionalism = _counter(_("professionalism ratings"))
    sum_resolution_quality = _counter(_("sum of resolution quality ratings"))
    rated_resolution_quality = _counter(_("resolution quality ratings"))
    response_count = _counter(_("tickets with response minutes"))
    response_sum = models.BigIntegerField(_("sum of response minutes"), default=0, editable=False)
    resolution_count = _counter(_("tickets with resolution minutes"))
    resolution_sum = models.BigIntegerField(_("sum of resolution minutes"), default=0, editable=False)

    class Meta:
        db_table = "customer_service_daily_rollup"
        verbose_name = _("daily service rollup")
        verbose_name_plural = _("daily service rollups")
        ordering = ["-day", "category", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "span", "day", "category", "priority"], name="uk_service_rollup_span"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.category} {self.priority}"


class ServiceMinutesHistogram(TenantOwnedModel):
    """How many tickets opened on a local day (or in a month, span "m") took `bucket` minutes to respond / resolve
    (tenant-wide median and p90 without the raw minutes; buckets in service_records.rollup: exact below 64, then
    4 % wide)."""

    span = models.CharField(_("span"), max_length=1, choices=SPANS, default="d", editable=False)
    day = models.DateField(_("day"), editable=False)
    metric = models.CharField(_("metric"), max_length=10, editable=False)
    bucket = models.PositiveSmallIntegerField(_("bucket"), editable=False)
    count = _counter(_("tickets"))

    class Meta:
        db_table = "customer_service_minutes_histogram"
        verbose_name = _("service minutes histogram")
        verbose_name_plural = _("service minutes histograms")
        ordering = ["-day", "metric", "bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "span", "day", "metric", "bucket"], name="uk_service_histogram_span"
            )
        ]
        # A period's histogram is summed from the index alone (no row lookup per day and bucket).
        indexes = [
            models.Index(fields=["tenant", "span", "day", "metric", "bucket", "count"], name="idx_histogram_span_cover")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} {self.bucket}: {self.count}"


class ServiceRollupState(TenantOwnedModel):
    """One row per tenant: rollup writers lock it (a rebuild step never interleaves with a ticket write) and it
    records when the rollups were last rebuilt."""

    rebuilt_at = models.DateTimeField(_("rebuilt at"), null=True, blank=True)

    class Meta:
        db_table = "customer_service_rollup_state"
        verbose_name = _("service rollup state")
        verbose_name_plural = _("service rollup states")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="uk_service_rollup_state")]

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.rebuilt_at}"
