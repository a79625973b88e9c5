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
