"""Admin of the segments app: segments, RFM and cluster runs, tag recommendations (read-only: jobs and the
customer page write them) and campaigns (edited through the campaign service)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError

from accounts.admin_mixins import AdminServiceRefused, ObjectTenantScopeMixin, ReadOnlyAdmin, TenantScopedAdminMixin
from crm_project.ui import error_text
from segments import campaigns
from segments.models import (
    Campaign,
    CampaignMember,
    ClusterRun,
    RfmScore,
    Segment,
    SegmentMembership,
    SegmentSnapshot,
    TagSuggestion,
)


@admin.register(Segment)
class SegmentAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("name", "member_count", "is_shared", "created_by", "evaluated_at")
    list_filter = ("is_shared",)
    search_fields = ("name", "description")


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("segment", "customer", "entered_at", "left_at")
    list_filter = ("segment",)
    search_fields = ("customer__customer_name", "segment__name")
    list_select_related = ("segment", "customer")


@admin.register(SegmentSnapshot)
class SegmentSnapshotAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("segment", "day", "size", "average_health", "at_risk")
    list_filter = ("segment",)
    search_fields = ("segment__name",)


@admin.register(RfmScore)
class RfmScoreAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("customer", "r_score", "f_score", "m_score", "rfm_segment", "cluster", "computed_at")
    list_filter = ("rfm_segment", "cluster")
    search_fields = ("customer__customer_name",)
    list_select_related = ("customer",)


@admin.register(ClusterRun)
class ClusterRunAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("computed_at", "customers", "k", "silhouette")
    list_filter = ("k",)
    search_fields = ("k",)


@admin.register(TagSuggestion)
class TagSuggestionAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("tag_name", "customer", "tag_category", "confidence", "source", "status", "decided_by")
    list_filter = ("status", "source", "tag_category")
    search_fields = ("tag_name", "customer__customer_name")
    list_select_related = ("customer", "decided_by")


class CampaignMemberInline(admin.TabularInline):
    model = CampaignMember
    fields = (
        "customer",
        "is_control",
        "email_sent",
        "contacted_at",
        "handled_at",
        "responded_at",
        "converted_at",
        "revenue",
    )
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    show_change_link = False


@admin.register(Campaign)
class CampaignAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "segment", "goal", "status", "cost", "control_percent", "launched_at")
    list_filter = ("status", "goal", "send_email", "create_tasks")
    search_fields = ("name", "description")
    readonly_fields = ("status", "launched_at", "launched_by", "contacts_finished_at", "attributed_at")
    inlines = [CampaignMemberInline]

    def save_model(self, request, obj, form, change):
        data = {key: form.cleaned_data[key] for key in campaigns.EDITABLE if key in form.cleaned_data}
        try:
            if change:
                original = Campaign.objects.get(pk=obj.pk)
                campaigns.campaign_update(actor=request.user, campaign=original, data=data, request=request)
            else:
                created = campaigns.campaign_create(actor=request.user, data=data, request=request)
                obj.pk = created.pk
        except ValidationError as exc:
            raise AdminServiceRefused(error_text(exc)) from exc

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "segment" and not request.user.is_superuser:
            kwargs["queryset"] = Segment.objects.filter(tenant_id=request.user.tenant_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(CampaignMember)
class CampaignMemberAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("campaign", "customer", "is_control", "email_sent", "responded_at", "converted_at", "revenue")
    list_filter = ("is_control", "email_sent", "campaign")
    search_fields = ("customer__customer_name", "campaign__name")
    list_select_related = ("campaign", "customer")
