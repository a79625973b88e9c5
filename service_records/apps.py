from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

VIEW = "service_records.view_servicerecord"


class ServiceRecordsConfig(AppConfig):
    name = "service_records"
    verbose_name = _("Service records")

    def ready(self) -> None:
        from accounts.registry import DemoStep, VolumeStep, demo_steps, volume_steps
        from service_records import demo

        demo_steps.register(DemoStep("service_records", demo.run, weight=20))
        volume_steps.register(
            VolumeStep(
                "service_records",
                "service_records.volume.run",
                weight=20,
                tables=("service_records.ServiceRecord", "service_records.ServiceDailyRollup"),
            )
        )
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        read = {VIEW, "service_records.view_npsresponse", "service_records.view_servicereport"}
        write = read | {
            "service_records.add_servicerecord",
            "service_records.change_servicerecord",
            "service_records.rate_servicerecord",
            "service_records.add_npsresponse",
            "service_records.add_servicereport",
        }
        manage = write | {"service_records.delete_servicerecord"}
        register_role_permissions({TENANT_ADMIN: manage, CS_LEAD: manage, CSM: write, FINANCE: read, VIEWER: read})
        self._register_extensions()
        self._register_personal_data()

    def _register_extensions(self) -> None:
        from celery.schedules import crontab

        from accounts.registry import Job, NavItem, audit_labels, jobs, nav_items
        from customers.extensions import CustomerTab, TimelineSource, customer_tabs, timeline_sources
        from service_records import receivers, views

        nav_items.register(NavItem("service_quality", _("Service quality"), "service_records:quality", VIEW, 40))
        customer_tabs.register(
            CustomerTab(
                "service",
                _("Service"),
                "service_records/_customer_service_tab.html",
                permission=VIEW,
                weight=50,
                context=views.customer_service_tab_context,
            )
        )
        timeline_sources.register(
            TimelineSource("service", receivers.service_timeline_entries, permission=VIEW, weight=110)
        )
        jobs.register(
            Job("service_records.scan_sla", "service_records.tasks.scan_sla", _("SLA breach scan"), schedule=300)
        )
        jobs.register(
            Job(
                "service_records.rebuild_rollups",
                "service_records.tasks.rebuild_rollups",
                _("Rebuild the service figures rollup"),
                schedule=crontab(hour=3, minute=20),
            )
        )
        jobs.register(
            Job(
                "service_records.monthly_reports",
                "service_records.tasks.monthly_reports",
                _("Monthly service reports"),
                schedule=crontab(day_of_month=1, hour=6, minute=10),
            )
        )
        jobs.register(
            Job(
                "service_records.quarterly_reports",
                "service_records.tasks.quarterly_reports",
                _("Quarterly service reports"),
                schedule=crontab(month_of_year="1,4,7,10", day_of_month=1, hour=6, minute=40),
            )
        )
        audit_labels.register(
            {
                "crm.service_record.ingested": _("Tickets received from the ticket system"),
                "crm.service_record.imported": _("Tickets imported from CSV"),
                "crm.service_record.created": _("Service record created"),
                "crm.service_record.updated": _("Service record updated"),
                "crm.service_record.rated": _("Service record rated"),
                "crm.service_record.nps_recorded": _("NPS answer recorded"),
                "crm.service_record.moved": _("Service records moved to another customer"),
                "crm.service_report.requested": _("Service report requested"),
                "crm.service_report.generated": _("Service report generated"),
            }
        )

    def _register_personal_data(self) -> None:
        """Erasure and export of a contact reach service records and NPS answers (privacy); closed records expire."""
        from privacy.registry import PersonalData, RetentionClass, personal_data, retention_classes
        from service_records.models import NpsResponse, ServiceRecord

        personal_data.register(
            PersonalData(
                "service_records.record",
                ServiceRecord,
                fields=("title", "description", "solution", "satisfaction_comment"),
            )
        )
        personal_data.register(
            PersonalData("service_records.nps", NpsResponse, fields=("reason",), contact_field="contact")
        )
        retention_classes.register(
            RetentionClass(
                "service_records",
                _("Service records"),
                ServiceRecord.objects.all,
                "closed_at",
                default_days=5 * 365,
                weight=20,
            )
        )
