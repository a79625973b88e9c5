from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """Data-subject requests (PIPL 45-47, GDPR 15/17/20) and retention policies.

    Sits just above `customers` (contracts > privacy > customers): every higher app registers the personal data it
    holds into `privacy.registry` from its own `ready()`; this app covers accounts and customers itself.
    """

    name = "privacy"
    verbose_name = _("Privacy")

    def ready(self) -> None:
        from celery.schedules import crontab

        from accounts.registry import Job, NavItem, audit_labels, jobs, nav_items
        from accounts.roles import TENANT_ADMIN, register_role_permissions
        from privacy import handlers

        register_role_permissions(
            {
                TENANT_ADMIN: {
                    "privacy.view_datasubjectrequest",
                    "privacy.add_datasubjectrequest",
                    "privacy.view_retentionpolicy",
                    "privacy.change_retentionpolicy",
                }
            }
        )
        handlers.register_core()
        nav_items.register(
            NavItem("privacy", _("Privacy"), "privacy:request_list", "privacy.view_datasubjectrequest", 95)
        )
        jobs.register(
            Job(
                "retention_purge",
                "privacy.tasks.retention_purge",
                _("Purge data past its retention period"),
                schedule=crontab(hour=4, minute=15),
            )
        )
        audit_labels.register(
            {
                "privacy.request.created": _("Data-subject request received"),
                "privacy.export.completed": _("Personal data exported"),
                "privacy.export.downloaded": _("Personal data export downloaded"),
                "privacy.erasure.completed": _("Personal data erased"),
                "privacy.correction.completed": _("Personal data corrected"),
                "privacy.retention.purged": _("Data purged after its retention period"),
                "privacy.retention.changed": _("Retention policy changed"),
            }
        )
