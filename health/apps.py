from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = _("Customer health")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.registry import DemoStep, VolumeStep, demo_steps, volume_steps
        from health import demo

        demo_steps.register(DemoStep("health_usage", demo.usage, weight=40))
        demo_steps.register(DemoStep("health_history", demo.history, weight=90))
        volume_steps.register(
            VolumeStep("health_history", "health.volume.run", weight=90, tables=("health.CustomerHealthScore",))
        )
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        read = {"health.view_customerhealthscore"}
        calc = read | {"health.calculate_health"}
        manage = calc | {"health.manage_health", "health.view_churnmodel"}
        register_role_permissions({TENANT_ADMIN: manage, CS_LEAD: manage, CSM: calc, FINANCE: read, VIEWER: read})
        # Weights and thresholds: tenant administrators only.
        register_role_permissions({TENANT_ADMIN: {"health.view_healthsettings", "health.change_healthsettings"}})
        self._register_jobs()
        self._register_extensions()
        self._register_personal_data()
        from contracts.extensions import renewal_probability_provider
        from health.renewal import renewal_estimates

        renewal_probability_provider.register(renewal_estimates)

    def _register_jobs(self) -> None:
        from celery.schedules import crontab

        from accounts.registry import Job, jobs

        jobs.register(
            Job(
                "score_customers",
                "health.tasks.score_customers",
                _("Score customer health, refresh lifetime values, send health alerts"),
                schedule=crontab(hour=1, minute=30),
            )
        )
        jobs.register(
            Job(
                "train_churn_model",
                "health.tasks.train_churn_model",
                _("Retrain the churn model"),
                schedule=crontab(hour=3, minute=0, day_of_week=0),
            )
        )

    def _register_extensions(self) -> None:
        from accounts.registry import DashboardCard, NavItem, audit_labels, dashboard_cards, nav_items
        from customers.extensions import CustomerTab, TimelineSource, customer_tabs, timeline_sources
        from health import receivers, views  # noqa: F401  (receivers connects the merge receiver)

        view = "health.view_customerhealthscore"
        customer_tabs.register(
            CustomerTab(
                "health",
                _("Health"),
                "health/_customer_health_tab.html",
                permission=view,
                weight=45,
                context=views.customer_health_tab_context,
            )
        )
        timeline_sources.register(
            TimelineSource("health", receivers.health_timeline_entries, permission=view, weight=150)
        )
        nav_items.register(NavItem("health", _("Health models"), "health:models", "health.manage_health", 60))
        nav_items.register(
            NavItem("health_settings", _("Health settings"), "health:settings", "health.change_healthsettings", 61)
        )
        for key, label, weight in (
            ("health_distribution", _("Health distribution"), 10),
            ("health_at_risk", _("At-risk customers"), 11),
            ("health_drops", _("Biggest drops this week"), 12),
            ("health_renewals", _("Renewals at risk"), 13),
            ("health_trend", _("Portfolio health trend"), 14),
        ):
            dashboard_cards.register(
                DashboardCard(
                    key,
                    label,
                    f"health/cards/{key}.html",
                    permission=view,
                    weight=weight,
                    context=getattr(views, f"card_{key}"),
                )
            )
        audit_labels.register(
            {
                "crm.health.calculated": _("Health score calculated"),
                "crm.health.settings_changed": _("Health settings changed"),
                "crm.health.model_trained": _("Churn model trained"),
            }
        )

    def _register_personal_data(self) -> None:
        """Feature snapshots and usage events may carry a contact's values: erasure and export reach them (privacy)."""
        from health.models import CustomerHealthScore, UsageEvent
        from privacy.registry import PersonalData, personal_data

        personal_data.register(
            PersonalData(
                "health.score", CustomerHealthScore, fields=("factors", "recommendations", "inputs", "churn_drivers")
            )
        )
        personal_data.register(PersonalData("health.usage", UsageEvent, fields=("user_identifier", "feature_name")))
