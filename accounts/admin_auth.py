"""Django admin for the authentication models: two-factor devices, OpenID Connect providers, API tokens."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin_mixins import AdminServiceRefused, ReadOnlyAdmin, TenantScopedAdminMixin
from accounts.models import Tenant
from accounts.models_auth import ApiToken, OIDCIdentity, OIDCProvider, TOTPDevice
from accounts.tenancy import tenant_scope, unscoped


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

    def delete_model(self, request, obj):
        from accounts.services import audit_record

        super().delete_model(request, obj)
        audit_record(action="crm.auth.second_factor_disabled", actor=request.user, obj=obj.user, request=request)

    def delete_queryset(self, request, queryset):
        for device in queryset.select_related("user"):
            self.delete_model(request, device)


class OIDCProviderForm(forms.ModelForm):
    for_tenant = forms.ModelChoiceField(queryset=Tenant.objects.all(), required=False, label=_("tenant"))

    issuer = forms.URLField(label=_("issuer"), max_length=300, assume_scheme="https")
    authorization_endpoint = forms.URLField(
        label=_("authorization endpoint"), max_length=300, required=False, assume_scheme="https"
    )
    token_endpoint = forms.URLField(label=_("token endpoint"), max_length=300, required=False, assume_scheme="https")
    jwks_uri = forms.URLField(label=_("JWKS URI"), max_length=300, required=False, assume_scheme="https")

    class Meta:
        model = OIDCProvider
        fields = [
            "name", "slug", "is_active", "issuer", "client_id", "client_secret", "scopes", "authorization_endpoint",
            "token_endpoint", "jwks_uri", "role_claim", "role_mapping", "default_role", "create_users",
            "allow_local_login", "trust_idp_mfa",
        ]  # fmt: skip
        widgets = {"client_secret": forms.PasswordInput(render_value=False)}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Stored encrypted and never sent back to the browser: an empty field keeps the current secret.
            self.fields["client_secret"].required = False
            self.fields["client_secret"].help_text = _("Stored encrypted; leave empty to keep the current secret.")

    def clean_client_secret(self):
        secret = self.cleaned_data.get("client_secret") or ""
        if not secret and self.instance.pk:
            return self.instance.client_secret
        return secret

    def clean_role_mapping(self):
        from accounts.roles import ROLE_CODES

        mapping = self.cleaned_data.get("role_mapping") or {}
        if not isinstance(mapping, dict) or any(role not in ROLE_CODES for role in mapping.values()):
            raise forms.ValidationError(
                _("Map claim values to these roles only: %(roles)s") % {"roles": ", ".join(ROLE_CODES)}
            )
        return mapping

    def clean_default_role(self):
        from accounts.roles import ROLE_CODES

        role = self.cleaned_data.get("default_role") or ""
        if role and role not in ROLE_CODES:
            raise forms.ValidationError(_("Choose one of: %(roles)s") % {"roles": ", ".join(ROLE_CODES)})
        return role


@admin.register(OIDCProvider)
class OIDCProviderAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Added by a superuser for a tenant; the tenant's administrator then maintains it."""

    form = OIDCProviderForm
    list_display = ["name", "slug", "tenant", "issuer", "allow_local_login", "is_active", "created_at"]
    list_filter = ["is_active", "allow_local_login", "create_users"]
    search_fields = ["name", "slug", "issuer", "client_id"]
    readonly_fields = ["tenant"]

    def get_fieldsets(self, request, obj=None):
        first = ["for_tenant" if obj is None else "tenant", "name", "slug", "is_active"]
        return [
            (None, {"fields": first}),
            (_("Provider"), {"fields": ["issuer", "client_id", "client_secret", "scopes"]}),
            (
                _("Endpoints (empty: discovered from the issuer)"),
                {"fields": ["authorization_endpoint", "token_endpoint", "jwks_uri"]},
            ),
            (_("Users and roles"), {"fields": ["role_claim", "role_mapping", "default_role", "create_users"]}),
            (_("Password sign-in"), {"fields": ["allow_local_login"]}),
            (_("Second factor"), {"fields": ["trust_idp_mfa"]}),
        ]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The slug is unique across tenants: the form's uniqueness check must see every tenant's providers.
        # (get_queryset still limits a tenant admin to their own provider.)
        with unscoped("slug uniqueness spans tenants"):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            return response

    def save_model(self, request, obj, form, change):
        if not change:
            obj.tenant = form.cleaned_data.get("for_tenant") or request.user.tenant
            if obj.tenant is None:
                raise AdminServiceRefused(_("Choose the tenant of the provider."))
        with tenant_scope(obj.tenant):
            super().save_model(request, obj, form, change)


@admin.register(OIDCIdentity)
class OIDCIdentityAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["provider", "subject", "user", "created_at", "last_login_at"]
    list_filter = ["last_login_at", "created_at"]  # (a provider filter would list every tenant's providers)
    search_fields = ["subject", "provider__slug", "user__username", "user__email"]


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
