"""Admin: knowledge base (categories, articles through the service, self-diagnosis checklists), the ticket
webhook, the webhook delivery log (read only: failures are visible to administrators) and portal accounts."""

from django.contrib import admin

from accounts.admin_mixins import ObjectTenantScopeMixin, ReadOnlyAdmin, TenantScopedAdminMixin
from crm_project.crypto import BlindIndexSearchMixin
from portal import services
from portal.models import DiagnosisChecklist, KbArticle, KbCategory, PortalAccount, TicketWebhook, WebhookDelivery


class _TenantAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return request.user.tenant_id is not None and super().has_add_permission(request)


@admin.register(KbCategory)
class KbCategoryAdmin(_TenantAdmin):
    list_display = ("name", "position")
    search_fields = ("name",)


@admin.register(KbArticle)
class KbArticleAdmin(_TenantAdmin):
    list_display = ("title", "category", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("title",)
    fields = ("category", "title", "body", "status")

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in ("category", "title", "body", "status")}
        saved = services.article_save(actor=request.user, data=data, article=obj if change else None, request=request)
        obj.pk = saved.pk


@admin.register(DiagnosisChecklist)
class DiagnosisChecklistAdmin(_TenantAdmin):
    list_display = ("title", "category", "is_published")
    list_filter = ("is_published",)
    search_fields = ("title",)


@admin.register(TicketWebhook)
class TicketWebhookAdmin(_TenantAdmin):
    list_display = ("url", "key_id", "is_active")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("created_at", "service_record", "status", "attempts", "response_status", "last_error")
    list_filter = ("status",)


@admin.register(PortalAccount)
class PortalAccountAdmin(BlindIndexSearchMixin, TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("email", "customer", "contact", "is_active", "totp_enabled", "last_login_at")
    list_filter = ("is_active",)
    search_fields = ("customer__customer_name",)
    blind_search = {"email_bidx": "email"}  # the e-mail is encrypted: exact match through its blind index
