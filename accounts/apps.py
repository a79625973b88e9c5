from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and tenants")

    def ready(self) -> None:
        from accounts import roles, signals  # noqa: F401  (signal receivers register on import)
        from crm_project.api.schema import register_extensions

        register_extensions()

        # After every app has migrated, so permissions of later apps exist too.
        post_migrate.connect(roles.sync_roles, dispatch_uid="accounts.sync_roles")
        self._register_jobs()
        self._register_audit_labels()

    def _register_audit_labels(self) -> None:
        from accounts.registry import audit_labels

        audit_labels.register(
            {
                "crm.auth.login": _("Signed in"),
                "crm.auth.login_failed": _("Sign-in failed"),
                "crm.auth.logout": _("Signed out"),
                "crm.auth.token_issued": _("API token issued"),
                "crm.auth.tokens_revoked": _("API tokens revoked"),
                "crm.tenant.created": _("Tenant created"),
                "crm.user.created": _("User created"),
                "crm.auth.second_factor_enabled": _("Two-step sign-in turned on"),
                "crm.auth.second_factor_disabled": _("Two-step sign-in turned off"),
                "crm.auth.second_factor_failed": _("Second-factor code refused"),
                "crm.auth.recovery_codes_regenerated": _("Recovery codes renewed"),
                "crm.auth.step_up": _("Second factor confirmed for a sensitive action"),
                "crm.auth.api_token_created": _("Service API token created"),
                "crm.auth.api_token_revoked": _("Service API token revoked"),
            }
        )

    def _register_jobs(self) -> None:
        from celery.schedules import crontab

        from accounts.registry import Job, jobs

        jobs.register(
            Job(
                "purge_read_notifications",
                "accounts.tasks.purge_read_notifications",
                _("Purge read notifications"),
                schedule=crontab(minute=17),
            )
        )
        jobs.register(
            Job(
                "flush_expired_tokens",
                "accounts.tasks.flush_expired_tokens",
                _("Flush expired tokens"),
                schedule=crontab(hour=3, minute=5),
                per_tenant=False,
            )
        )
        jobs.register(
            Job(
                "sweep_job_runs",
                "accounts.tasks.sweep_job_runs",
                _("Mark job runs whose worker was lost as abandoned"),
                schedule=crontab(minute="*/10"),
                per_tenant=False,
            )
        )
