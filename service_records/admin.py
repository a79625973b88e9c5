"""The rollup tables in the admin, read-only (they are derived: the job `service_records.rebuild_rollups`
recomputes them from the tickets)."""

from django.contrib import admin

from accounts.admin_mixins import ReadOnlyAdmin, TenantScopedAdminMixin
from service_records.models import ServiceDailyRollup, ServiceMinutesHistogram, ServiceRollupState


@admin.register(ServiceDailyRollup)
class ServiceDailyRollupAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("day", "span", "category", "priority", "tickets", "open_tickets", "breaches", "rated", "tenant")
    list_filter = ("span", "priority", "day")
    search_fields = ("category",)
    date_hierarchy = "day"


@admin.register(ServiceMinutesHistogram)
class ServiceMinutesHistogramAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("day", "span", "metric", "bucket", "count", "tenant")
    list_filter = ("span", "metric", "day")
    search_fields = ("metric",)


@admin.register(ServiceRollupState)
class ServiceRollupStateAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("tenant", "rebuilt_at")
    list_filter = ("rebuilt_at",)
    search_fields = ("tenant__name",)
