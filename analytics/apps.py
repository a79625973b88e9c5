from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        read = {"analytics.view_levelsuggestion"}
        lead = read | {
            "analytics.decide_levelsuggestion",
            "analytics.view_kpi_dashboard",
            "analytics.view_data_quality",
            "analytics.fix_data_quality",
            "analytics.view_team",
        }
        register_role_permissions(
            {
                TENANT_ADMIN: lead | {"analytics.add_team", "analytics.change_team", "analytics.delete_team"},
                CS_LEAD: lead,
                CSM: read | {"analytics.view_data_quality", "analytics.fix_data_quality"},
                FINANCE: read,
                VIEWER: read,
            }
        )
        self._register_jobs()
        self._register_extensions()
        from accounts.registry import DemoStep, demo_steps
        from analytics import demo, receivers  # noqa: F401  (receivers connects the contact receiver)

        demo_steps.register(DemoStep("analytics", demo.run, weight=95))

    def _register_jobs(self) -> None:
        from celery.schedules import crontab

        from accounts.registry import Job, jobs

        jobs.register(
            Job(
                "grade_customers",
                "analytics.tasks.grade_customers",
                _("Suggest customer levels from value, potential and risk"),
                schedule=crontab(hour=3, minute=30),
            )
        )
        jobs.register(
            Job(
                "consistency_check",
                "analytics.tasks.consistency_check",
                _("Check and repair denormalised customer figures"),
                schedule=crontab(hour=4, minute=0),
            )
        )
        jobs.register(
            Job(
                "data_quality_reminders",
                "analytics.tasks.data_quality_reminders",
                _("Weekly reminder of incomplete customers to each manager"),
                schedule=crontab(hour=8, minute=0, day_of_week=1),
            )
        )

    def _register_extensions(self) -> None:
        from accounts.registry import NavItem, audit_labels, nav_items
        from analytics import views
        from customers.extensions import CustomerTab, customer_tabs

        nav_items.register(
            NavItem("kpis", _("KPI dashboard"), "analytics:kpi_dashboard", "analytics.view_kpi_dashboard", 70)
        )
        nav_items.register(
            NavItem(
                "level_suggestions",
                _("Level suggestions"),
                "analytics:suggestion_list",
                "analytics.decide_levelsuggestion",
                71,
            )
        )
        nav_items.register(
            NavItem("data_quality", _("Data quality"), "analytics:data_quality", "analytics.view_data_quality", 72)
        )
        customer_tabs.register(
            CustomerTab(
                "analytics",
                _("Grading & data"),
                "analytics/_customer_tab.html",
                permission="analytics.view_levelsuggestion",
                weight=80,
                context=views.customer_tab_context,
            )
        )
        audit_labels.register(
            {
                "crm.level_suggestion.accepted": _("Level suggestion accepted"),
                "crm.level_suggestion.rejected": _("Level suggestion rejected"),
                "crm.data_quality.contact_marked": _("Contact detail marked inaccurate"),
                "crm.data_quality.manager_set": _("Missing manager set (data quality)"),
            }
        )
