"""Admin: subscriptions (secret generated, never shown), the delivery log with its attempts (read only, failures
filterable) and a replay action, and the circuit breakers."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_mixins import ObjectTenantScopeMixin, ReadOnlyAdmin, TenantScopedAdminMixin
from accounts.tenancy import tenant_scope
from webhooks import services
from webhooks.models import CircuitBreaker, DeliveryAttempt, WebhookDelivery, WebhookSubscription


class SubscriptionAdminForm(forms.ModelForm):
    class Meta:
        model = WebhookSubscription
        fields = ("name", "target_url", "event_types", "is_active")

    def clean_target_url(self):
        url = self.cleaned_data["target_url"]
        try:
            services.check_target(url)
        except services.TargetRefused as exc:
            raise ValidationError(str(exc)) from None
        return url

    def clean_event_types(self):
        try:
            return services.clean_event_types(self.cleaned_data["event_types"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["event_types"]) from None


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    form = SubscriptionAdminForm
    list_display = ("name", "target_url", "is_active", "key_id", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name", "target_url", "key_id")
    fields = ("name", "target_url", "event_types", "is_active")

    def has_add_permission(self, request):
        return False  # created through the API or the staff page, which show the secret once

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in self.fields}
        services.subscription_update(actor=request.user, subscription=obj, data=data, request=request)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "response_code", "duration_ms", "error", "request_headers", "response_body")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("created_at", "event_type", "target_url", "status", "attempts", "response_code", "last_error")
    list_filter = ("status", "event_type", "source")
    search_fields = ("target_url", "event_id", "last_error")
    inlines = [DeliveryAttemptInline]
    actions = ["replay"]

    @admin.action(description=_("Replay the selected deliveries"), permissions=["replay"])
    def replay(self, request, queryset):
        count = 0
        for delivery in queryset.select_related("tenant", "subscription"):
            with tenant_scope(delivery.tenant):
                services.delivery_replay(actor=request.user, delivery=delivery, request=request)
            count += 1
        self.message_user(
            request, ngettext("%(n)d delivery queued again.", "%(n)d deliveries queued again.", count) % {"n": count},
            messages.SUCCESS,
        )  # fmt: skip

    def has_replay_permission(self, request):
        return request.user.has_perm("webhooks.change_webhookdelivery")


@admin.register(CircuitBreaker)
class CircuitBreakerAdmin(TenantScopedAdminMixin, ReadOnlyAdmin):
    list_display = ("target", "state", "consecutive_failures", "opened_at", "updated_at")
    list_filter = ("state",)
    search_fields = ("target",)
