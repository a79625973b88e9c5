"""Admin pieces every app uses: tenant-scoped lists, change pages run inside the row's tenant, read-only admins.

class ThingAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        try:
            services.thing_update(...)
        except ValidationError as exc:
            raise AdminServiceRefused(error_text(exc)) from exc   # rolled back, shown as a message
"""

from __future__ import annotations

from contextlib import nullcontext

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from accounts.tenancy import tenant_scope, unscoped


class AdminServiceRefused(Exception):
    """Raise inside a change page's save (model or formset) when a service refuses: the whole save is rolled
    back by the admin's transaction and the message is shown on the page again."""


class TenantScopedAdminMixin:
    """A tenant admin sees and edits only rows of their own tenant; a superuser sees all.

    `visible_queryset(request, queryset)` narrows further (e.g. customers: the visibility selector).
    """

    tenant_field = "tenant"

    def get_queryset(self, request):
        with unscoped("admin filters by the admin's tenant explicitly below"):
            queryset = self.model._default_manager.get_queryset()
        if request.user.is_superuser:
            return queryset
        return self.visible_queryset(request, queryset.filter(**{self.tenant_field: request.user.tenant_id}))

    def visible_queryset(self, request, queryset):
        return queryset


class ObjectTenantScopeMixin:
    """Run a change page inside the tenant of the row it edits (a superuser may belong to another tenant, or none).

    The response is rendered inside the scope (inline formsets and choices query tenant rows). A save refused
    with `AdminServiceRefused` keeps nothing and redirects back to the page with the reason as an error message.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        tenant = None
        if object_id:
            try:
                row = self.get_queryset(request).select_related("tenant").filter(pk=object_id).first()
            except (ValueError, ValidationError):
                row = None
            tenant = row.tenant if row is not None else None
        try:
            with tenant_scope(tenant) if tenant is not None else nullcontext():
                response = super().changeform_view(request, object_id, form_url, extra_context)
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response
        except AdminServiceRefused as exc:
            # The admin's transaction was rolled back by the exception: nothing of this save was kept.
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nothing can be added, changed or deleted from here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
