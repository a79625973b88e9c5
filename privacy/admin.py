from django.contrib import admin

from accounts.admin_mixins import ReadOnlyAdmin, TenantScopedAdminMixin
from privacy.models import DataSubjectRequest, RetentionPolicy


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("id", "kind", "contact_id", "status", "deadline", "created_at", "completed_at", "requested_by")
    list_filter = ("kind", "status")
    search_fields = ("=id", "=contact_id", "=customer_id")
    date_hierarchy = "created_at"


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("data_class", "retention_days", "updated_at")
    list_filter = ("data_class",)
    search_fields = ("data_class",)
