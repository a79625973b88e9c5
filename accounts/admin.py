"""Django admin: tenants, users, roles and the (read-only) audit log, scoped to the admin's tenant."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from accounts.admin_mixins import ReadOnlyAdmin, TenantScopedAdminMixin
from accounts.models import AuditLog, IntegrationKey, JobRun, Notification, Tenant, User

__all__ = ["ReadOnlyAdmin", "TenantScopedAdminMixin"]  # kept importable from here for older imports


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "require_second_factor", "created_at"]
    list_filter = ["is_active", "require_second_factor"]
    search_fields = ["name"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(TenantScopedAdminMixin, DjangoUserAdmin):
    list_display = ["username", "display_name", "email", "tenant", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "groups", "tenant"]
    search_fields = ["username", "display_name", "email", "first_name", "last_name"]
    fieldsets = DjangoUserAdmin.fieldsets + ((_("CRM"), {"fields": ("tenant", "display_name", "phone")}),)
    add_fieldsets = DjangoUserAdmin.add_fieldsets + ((_("CRM"), {"fields": ("tenant", "display_name", "email")}),)

    def get_list_filter(self, request):
        # The tenant filter would list every tenant's name: only a superuser (who sees all tenants) gets it.
        filters = list(super().get_list_filter(request))
        return filters if request.user.is_superuser else [f for f in filters if f != "tenant"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # A tenant admin cannot move users between tenants or hand out superuser rights.
            fields += ["tenant", "is_superuser", "user_permissions"]
        return fields

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            from accounts.roles import ROLE_CODES

            kwargs["queryset"] = Group.objects.filter(name__in=ROLE_CODES)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.tenant = request.user.tenant
            obj.is_superuser = False
        super().save_model(request, obj, form, change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Saving a user can change roles: a fresh second factor first (PRD 7.1).
        from accounts import stepup

        if request.method == "POST" and stepup.needs_step_up(request):
            return stepup.step_up_response(request)
        return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(AuditLog)
class AuditLogAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor_name", "object_type", "object_id", "object_repr", "ip_address"]
    list_filter = ["action", "object_type", "created_at"]
    search_fields = ["action", "actor_name", "object_repr", "object_id", "trace_id", "ip_address", "user_agent"]


@admin.register(JobRun)
class JobRunAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["started_at", "job_name", "tenant", "status", "heartbeat_at", "finished_at", "counts", "error"]
    list_filter = ["status", "job_name"]
    search_fields = ["job_name", "error", "trace_id"]


@admin.register(Notification)
class NotificationAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["created_at", "recipient", "kind", "message", "read_at", "emailed_at"]
    list_filter = ["kind", "read_at"]
    search_fields = ["message", "recipient__username"]


admin.site.site_header = _("Customer Success CRM administration")
admin.site.site_title = _("CRM admin")


@admin.register(IntegrationKey)
class IntegrationKeyAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Keys are made here or by `manage.py create_integration_key`; the secret is shown once, on creation."""

    list_display = ["key_id", "name", "tenant", "is_active", "created_at", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["key_id", "name"]
    fields = ["name", "is_active", "key_id", "created_at", "last_used_at"]
    readonly_fields = ["key_id", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return request.user.is_superuser or (
            request.user.tenant_id is not None and request.user.has_perm("accounts.add_integrationkey")
        )

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        from accounts.integration import integration_key_create

        key, secret = integration_key_create(tenant=request.user.tenant, name=obj.name)
        obj.pk = key.pk
        messages.warning(
            request,
            _("Key %(key)s created. Its secret is shown only now: %(secret)s") % {"key": key.key_id, "secret": secret},
        )


from accounts import admin_auth  # noqa: E402,F401  (two-factor devices, OpenID Connect, API tokens)
