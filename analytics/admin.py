from django.contrib import admin

from accounts.admin_mixins import ObjectTenantScopeMixin, ReadOnlyAdmin, TenantScopedAdminMixin
from analytics.models import LevelSuggestion, Team


@admin.register(LevelSuggestion)
class LevelSuggestionAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    """Read-only: suggestions are computed by the nightly job and decided on the staff page or the API."""

    list_display = (
        "customer",
        "current_level",
        "suggested_level",
        "grade_score",
        "status",
        "computed_on",
        "decided_by",
    )
    list_filter = ("status", "suggested_level", "current_level", "computed_on")
    search_fields = ("customer__customer_name", "customer__customer_code")
    raw_id_fields = ("customer", "decided_by")


@admin.register(Team)
class TeamAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Teams of CSMs: the KPI dashboard's team filter."""

    list_display = ("name", "lead", "created_at")
    list_filter = ("created_at",)
    search_fields = ("name", "members__username", "members__display_name")
    filter_horizontal = ("members",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "lead" and not request.user.is_superuser:
            from accounts.models import User

            kwargs["queryset"] = User.objects.filter(tenant_id=request.user.tenant_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "members" and not request.user.is_superuser:
            from accounts.models import User

            kwargs["queryset"] = User.objects.filter(tenant_id=request.user.tenant_id)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if obj.tenant_id is None and request.user.tenant_id:
            obj.tenant = request.user.tenant
        super().save_model(request, obj, form, change)
