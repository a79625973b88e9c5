"""Rule segments with their membership history and daily figures; RFM scores and behavioural clusters."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import TenantOwnedModel


class Segment(TenantOwnedModel):
    """A saved, named rule over customers (`rules` as in the API: nested AND/OR groups of conditions)."""

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=500, blank=True)
    rules = models.JSONField(_("rules"))
    is_shared = models.BooleanField(_("shared with the team"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("owner")
    )
    member_count = models.PositiveIntegerField(_("members"), default=0, editable=False)
    evaluated_at = models.DateTimeField(_("evaluated at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "segments"
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uk_segment_name")]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(TenantOwnedModel):
    """One stay of a customer in a segment: entered at, left at (open while a member)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField(_("entered at"))
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)

    class Meta:
        db_table = "segment_memberships"
        ordering = ["-entered_at", "-id"]
        indexes = [models.Index(fields=["segment", "left_at"], name="idx_segment_member_open")]


class SegmentSnapshot(TenantOwnedModel):
    """A segment's figures on one day (the page's trend)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField(_("day"))
    size = models.PositiveIntegerField(_("size"), default=0)
    average_health = models.DecimalField(_("average health"), max_digits=5, decimal_places=2, default=0)
    revenue = models.DecimalField(_("revenue"), max_digits=18, decimal_places=2, default=0)
    at_risk = models.PositiveIntegerField(_("at risk"), default=0)

    class Meta:
        db_table = "segment_snapshots"
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["segment", "day"], name="uk_segment_snapshot_day")]


class RfmScore(TenantOwnedModel):
    """A customer's latest RFM scores (1-5 each), named segment and behavioural cluster."""

    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE, related_name="rfm_score")
    recency_days = models.PositiveIntegerField(_("days since last purchase"))
    frequency = models.PositiveIntegerField(_("purchases"))
    monetary = models.DecimalField(_("revenue"), max_digits=18, decimal_places=2)
    r_score = models.PositiveSmallIntegerField("R")
    f_score = models.PositiveSmallIntegerField("F")
    m_score = models.PositiveSmallIntegerField("M")
    rfm_segment = models.CharField(_("RFM segment"), max_length=30)
    cluster = models.PositiveSmallIntegerField(_("cluster"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        db_table = "segment_rfm_scores"
        ordering = ["customer_id"]


class ClusterRun(TenantOwnedModel):
    """One nightly k-means run: chosen k, silhouette and the cluster centres (in the features' units)."""

    computed_at = models.DateTimeField(_("computed at"))
    customers = models.PositiveIntegerField(_("customers"), default=0)
    k = models.PositiveSmallIntegerField("k", default=0)
    silhouette = models.FloatField(_("silhouette"), null=True, blank=True)
    features = models.JSONField(default=list)
    centres = models.JSONField(default=list)
    sizes = models.JSONField(default=list)

    class Meta:
        db_table = "segment_cluster_runs"
        ordering = ["-computed_at", "-id"]


# --- Smart tags: recommendations ------------------------------------------------------------------------------------
class SuggestionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DISMISSED = "dismissed", _("Dismissed")


class TagSuggestion(TenantOwnedModel):
    """A tag the models or rules recommend for a customer; accepted → a real tag, dismissed → never suggested again."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    tag_name = models.CharField(_("tag"), max_length=100)
    tag_category = models.CharField(_("category"), max_length=50, blank=True)
    confidence = models.DecimalField(_("confidence"), max_digits=5, decimal_places=4)
    source = models.CharField(_("source"), max_length=50)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "segment_tag_suggestions"
        verbose_name = _("tag recommendation")
        verbose_name_plural = _("tag recommendations")
        ordering = ["-confidence", "tag_name", "id"]
        constraints = [models.UniqueConstraint(fields=["customer", "tag_name"], name="uk_tag_suggestion")]
        indexes = [models.Index(fields=["customer", "status"], name="idx_tag_suggestion_status")]

    def __str__(self) -> str:
        return self.tag_name


# --- Campaigns ------------------------------------------------------------------------------------------------------
class CampaignGoal(models.TextChoices):
    RENEWAL = "renewal", _("Renewal")
    UPSELL = "upsell", _("Upsell")
    TRAINING = "training", _("Training uptake")
    SATISFACTION = "satisfaction", _("Satisfaction")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    LAUNCHED = "launched", _("Launched")


class Campaign(TenantOwnedModel):
    """A marketing / success campaign on a segment's members (snapshot at launch) with a control group option."""

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=500, blank=True)
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns", verbose_name=_("segment")
    )
    goal = models.CharField(_("goal"), max_length=20, choices=CampaignGoal.choices)
    send_email = models.BooleanField(_("send e-mail"), default=False)
    email_subject = models.CharField(_("e-mail subject"), max_length=200, blank=True)
    email_body = models.TextField(_("e-mail body"), max_length=10000, blank=True)
    create_tasks = models.BooleanField(_("create CSM tasks"), default=False)
    task_title = models.CharField(_("task title"), max_length=200, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=15, decimal_places=2, default=0)
    control_percent = models.PositiveSmallIntegerField(_("control group (%)"), default=0)
    control_seed = models.PositiveIntegerField(_("control group seed"), default=0)
    attribution_days = models.PositiveSmallIntegerField(_("attribution window (days)"), default=90)
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True, editable=False)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    attributed_at = models.DateTimeField(_("attributed at"), null=True, blank=True, editable=False)
    # Set by the background fan-out (segments.tasks.contact_campaign) when every treated member was handled.
    contacts_finished_at = models.DateTimeField(_("contacting finished at"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "campaigns"
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uk_campaign_name")]
        permissions = [("launch_campaign", _("Can launch campaigns"))]

    def __str__(self) -> str:
        return self.name


class CampaignMember(TenantOwnedModel):
    """A customer in a launched campaign (the launch snapshot), in the treated or the control group, and outcomes."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    is_control = models.BooleanField(_("control group"), default=False)
    email = models.CharField(_("e-mail"), max_length=100, blank=True)
    contacted_at = models.DateTimeField(_("contacted at"), null=True, blank=True)
    email_sent = models.BooleanField(_("e-mail sent"), default=False)
    task_id = models.PositiveBigIntegerField(_("task"), null=True, blank=True)
    # When the fan-out handled this treated member (its channels done); a rerun skips handled members.
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    responded_at = models.DateTimeField(_("responded at"), null=True, blank=True)
    converted_at = models.DateField(_("converted on"), null=True, blank=True)
    revenue = models.DecimalField(_("attributed revenue"), max_digits=18, decimal_places=2, default=0)

    class Meta:
        db_table = "campaign_members"
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")
        ordering = ["campaign", "id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="uk_campaign_member")]
        indexes = [models.Index(fields=["campaign", "is_control"], name="idx_campaign_member_group")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.customer_id}"
