from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from accounts.roles import TENANT_ADMIN, register_role_permissions
        from webhooks import receivers

        register_role_permissions(
            {
                TENANT_ADMIN: {
                    "webhooks.view_webhooksubscription",
                    "webhooks.add_webhooksubscription",
                    "webhooks.change_webhooksubscription",
                    "webhooks.delete_webhooksubscription",
                    "webhooks.view_webhookdelivery",
                    "webhooks.change_webhookdelivery",
                    "webhooks.view_deliveryattempt",
                    "webhooks.view_circuitbreaker",
                }
            }
        )
        receivers.connect()
        self._register_extensions()
        self._register_personal_data()

    def _register_personal_data(self) -> None:
        """Event payloads and the answers of targets may name a contact: erasure and export reach them too."""
        from privacy.registry import PersonalData, personal_data
        from webhooks.models import DeliveryAttempt, WebhookDelivery

        personal_data.register(PersonalData("webhooks.delivery", WebhookDelivery, fields=("payload", "last_error")))
        personal_data.register(
            PersonalData("webhooks.attempt", DeliveryAttempt, fields=("request_headers", "response_body", "error"))
        )

    def _register_extensions(self) -> None:
        from accounts.registry import Job, NavItem, audit_labels, jobs, nav_items

        nav_items.register(
            NavItem("webhooks", _("Webhooks"), "webhooks:delivery_list", "webhooks.view_webhookdelivery", 95)
        )
        jobs.register(
            Job(
                "redeliver_webhooks",
                "webhooks.tasks.redeliver_due",
                _("Queue overdue webhook deliveries again"),
                schedule=60.0,
                per_tenant=False,
            )
        )
        audit_labels.register(
            {
                "crm.webhook.subscription_created": _("Webhook subscription created"),
                "crm.webhook.subscription_updated": _("Webhook subscription updated"),
                "crm.webhook.subscription_deleted": _("Webhook subscription deleted"),
                "crm.webhook.delivery_failed": _("Webhook delivery failed"),
                "crm.webhook.delivery_replayed": _("Webhook delivery replayed"),
            }
        )
