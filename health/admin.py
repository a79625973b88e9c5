"""Django admin of the health app: the tenant's settings (editable, audited) and read-only records."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin_mixins import ObjectTenantScopeMixin, ReadOnlyAdmin, TenantScopedAdminMixin
from accounts.services import audit_record
from health.models import ChurnModel, CustomerHealthScore, HealthAlert, HealthSettings, UsageEvent


@admin.register(HealthSettings)
class HealthSettingsAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Weights must sum to 100 and thresholds be ordered (HealthSettings.clean); every change is audited."""

    list_display = [
        "tenant",
        "weight_satisfaction",
        "weight_activity",
        "weight_financial",
        "weight_contract",
        "low_risk_min",
        "medium_risk_min",
        "high_risk_min",
        "updated_at",
    ]
    search_fields = ["tenant__name"]
    list_filter = ["updated_at"]
    fieldsets = [
        (None, {"fields": ["weight_satisfaction", "weight_activity", "weight_financial", "weight_contract"]}),
        (None, {"fields": ["low_risk_min", "medium_risk_min", "high_risk_min"]}),
        (None, {"fields": ["alert_drop_points", "alert_window_days"]}),
        (None, {"fields": ["service_hour_rate", "hours_per_ticket", "hours_per_month"]}),
        (None, {"fields": ["min_model_recall", "min_model_auc"]}),
    ]

    def has_add_permission(self, request):
        # One row per tenant, created in the admin user's own tenant.
        if request.user.tenant_id is None or not request.user.has_perm("health.change_healthsettings"):
            return False
        return not self.get_queryset(request).filter(tenant_id=request.user.tenant_id).exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            action="crm.health.settings_changed",
            actor=request.user,
            obj=obj,
            changes={
                name: [str(form.initial.get(name)), str(form.cleaned_data.get(name))] for name in form.changed_data
            },
            request=request,
            tenant=obj.tenant,
        )


class HealthRecordAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, ReadOnlyAdmin):
    pass


@admin.register(CustomerHealthScore)
class CustomerHealthScoreAdmin(HealthRecordAdmin):
    list_display = ["customer", "score_date", "overall_score", "risk_level", "churn_probability", "churn_source"]
    list_filter = ["risk_level", "churn_source", "score_date"]
    search_fields = ["customer__customer_name", "customer__customer_code"]
    list_select_related = ["customer"]
    date_hierarchy = "score_date"


@admin.register(UsageEvent)
class UsageEventAdmin(HealthRecordAdmin):
    list_display = ["event_id", "customer", "event_type", "feature_name", "user_identifier", "occurred_at"]
    list_filter = ["event_type", "occurred_at"]
    search_fields = ["event_id", "feature_name", "user_identifier", "customer__customer_name"]
    list_select_related = ["customer"]


@admin.register(ChurnModel)
class ChurnModelAdmin(HealthRecordAdmin):
    list_display = ["version", "status", "algorithm", "trained_at", "n_train", "n_test"]
    list_filter = ["status", "algorithm", "trained_at"]
    search_fields = ["algorithm", "notes"]
    exclude = ["artifact"]


@admin.register(HealthAlert)
class HealthAlertAdmin(HealthRecordAdmin):
    list_display = ["customer", "kind", "score_date", "drop", "previous_risk_level", "risk_level"]
    list_filter = ["kind", "score_date"]
    search_fields = ["customer__customer_name"]
    list_select_related = ["customer"]
