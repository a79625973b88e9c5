from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = _("Customer health")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        read = {"health.view_customerhealthscore"}
        calc = read | {"health.calculate_health"}
        manage = calc | {"health.manage_health", "health.view_churnmodel"}
        register_role_permissions({TENANT_ADMIN: manage, CS_LEAD: manage, CSM: calc, FINANCE: read, VIEWER: read})
