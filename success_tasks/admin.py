"""Admin for playbook rules and CSM profiles (tenant-scoped; rule saves go through services.rule_save)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError

from accounts.admin_mixins import AdminServiceRefused, ObjectTenantScopeMixin, ReadOnlyAdmin, TenantScopedAdminMixin
from crm_project.ui import error_text
from success_tasks import services
from success_tasks.forms import RuleForm
from success_tasks.models import CsmProfile, CustomerSuccessTask, PlaybookRule


@admin.register(PlaybookRule)
class PlaybookRuleAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    form = RuleForm
    list_display = ("name", "trigger", "threshold", "window_days", "task_type", "priority", "enabled")
    list_filter = ("enabled", "trigger", "task_type")

    def save_model(self, request, obj, form, change):
        try:
            services.rule_save(actor=request.user, rule=obj, request=request)
        except ValidationError as exc:
            raise AdminServiceRefused(error_text(exc)) from exc


@admin.register(CsmProfile)
class CsmProfileAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "team", "absent_until")
    list_filter = ("team",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = services.assignable_users(request.user.tenant)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(CustomerSuccessTask)
class CustomerSuccessTaskAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    """Read-only: tasks are worked on the board and through the API, where the status rules apply."""

    list_display = (
        "task_title",
        "customer",
        "task_type",
        "priority",
        "status",
        "assigned_to",
        "due_date",
        "auto_generated",
    )
    list_filter = ("status", "task_type", "priority", "auto_generated")
    list_select_related = ("customer", "assigned_to")
