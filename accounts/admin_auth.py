"""Django admin for the authentication models: two-factor devices, OpenID Connect providers, API tokens."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from accounts.admin_mixins import ReadOnlyAdmin, TenantScopedAdminMixin
from accounts.models_auth import ApiToken, OIDCIdentity, OIDCProvider, TOTPDevice


class _UserTenantScopedAdmin(TenantScopedAdminMixin):
    """Rows that belong to a user: a tenant admin sees those of their tenant's users."""

    tenant_field = "user__tenant"


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(_UserTenantScopedAdmin, admin.ModelAdmin):
    """Read and delete only: deleting a lost phone's device lets the user enrol again (tenant admins at once)."""

    list_display = ["user", "confirmed_at", "last_used_at", "created_at"]
    list_filter = ["confirmed_at", "last_used_at"]
    search_fields = ["user__username", "user__display_name", "user__email"]
    fields = ["user", "confirmed_at", "last_used_at", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser or request.user.has_perm("accounts.change_user")


@admin.register(OIDCProvider)
class OIDCProviderAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "tenant", "issuer", "allow_local_login", "is_active", "created_at"]
    list_filter = ["is_active", "allow_local_login", "create_users"]
    search_fields = ["name", "slug", "issuer", "client_id"]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "slug", "is_active"]}),
        (_("Provider"), {"fields": ["issuer", "client_id", "client_secret", "scopes"]}),
        (
            _("Endpoints (empty: discovered from the issuer)"),
            {"fields": ["authorization_endpoint", "token_endpoint", "jwks_uri"]},
        ),
        (_("Users and roles"), {"fields": ["role_claim", "role_mapping", "default_role", "create_users"]}),
        (_("Password sign-in"), {"fields": ["allow_local_login"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["tenant"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "client_secret" in form.base_fields:
            from django import forms

            form.base_fields["client_secret"].widget = forms.PasswordInput(render_value=True)
        return form

    def has_add_permission(self, request):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.tenant = request.user.tenant
        from accounts.roles import ROLE_CODES

        wrong = [role for role in (obj.role_mapping or {}).values() if role not in ROLE_CODES]
        if wrong:
            messages.warning(request, _("Unknown roles in the mapping are ignored: %(roles)s") % {"roles": wrong})
        super().save_model(request, obj, form, change)


@admin.register(OIDCIdentity)
class OIDCIdentityAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["provider", "subject", "user", "created_at", "last_login_at"]
    list_filter = ["provider", "last_login_at"]
    search_fields = ["subject", "user__username", "user__email"]


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Tokens are created on the staff page (shown once there); here they are listed and revoked."""

    list_display = ["name", "prefix", "tenant", "user", "expires_at", "revoked_at", "last_used_at", "created_at"]
    list_filter = ["revoked_at", "expires_at", "last_used_at"]
    search_fields = ["name", "prefix", "user__username"]
    fields = ["name", "prefix", "user", "scopes", "expires_at", "revoked_at", "last_used_at", "last_used_ip"]
    readonly_fields = ["prefix", "user", "scopes", "revoked_at", "last_used_at", "last_used_ip"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke(self, request, queryset):
        from accounts.api_tokens import revoke_token
        from accounts.services import audit_record

        for token in queryset.filter(revoked_at__isnull=True):
            revoke_token(token)
            audit_record(action="crm.auth.api_token_revoked", actor=request.user, obj=token, request=request)


def _admin_login(request, extra_context=None):
    """The admin has no password form of its own: everyone signs in on the staff sign-in page, so the second
    factor, the per-tenant "password sign-in off" rule, single sign-on and the lockout apply there too."""
    from urllib.parse import urlencode

    from django.contrib.auth import REDIRECT_FIELD_NAME
    from django.shortcuts import redirect
    from django.urls import reverse
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("admin:index")
    return redirect(f"{reverse('accounts:login')}?{urlencode({REDIRECT_FIELD_NAME: target})}")


admin.site.login = _admin_login
