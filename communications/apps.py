from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunicationsConfig(AppConfig):
    name = "communications"
    verbose_name = _("Communications")

    def ready(self) -> None:
        from accounts.registry import DemoStep, VolumeStep, demo_steps, volume_steps
        from communications import demo

        demo_steps.register(DemoStep("communications", demo.run, weight=30))
        volume_steps.register(
            VolumeStep(
                "communications", "communications.volume.run", weight=30, tables=("communications.Communication",)
            )
        )
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        read = {"communications.view_communication"}
        write = read | {"communications.add_communication", "communications.change_communication"}
        manage = write | {"communications.delete_communication"}
        register_role_permissions({TENANT_ADMIN: manage, CS_LEAD: manage, CSM: write, FINANCE: read, VIEWER: read})
        from communications import receivers, tasks  # noqa: F401  (merge receiver, worker warm-up)

        self._register_extensions()
        self._register_personal_data()

    def _register_extensions(self) -> None:
        from celery.schedules import crontab

        from accounts.registry import Job, audit_labels, jobs
        from communications import receivers, views
        from customers.extensions import CustomerTab, TimelineSource, customer_tabs, timeline_sources

        customer_tabs.register(
            CustomerTab(
                "communications",
                _("Communications"),
                "communications/_customer_tab.html",
                permission="communications.view_communication",
                weight=60,
                context=views.customer_tab_context,
            )
        )
        timeline_sources.register(
            TimelineSource(
                "communications",
                receivers.communication_timeline_entries,
                permission="communications.view_communication",
                weight=60,
            )
        )
        jobs.register(
            Job(
                "communication-follow-up-reminders",
                task="communications.tasks.send_follow_up_reminders",
                label=_("Overdue follow-up reminders"),
                schedule=crontab(hour=8, minute=10),
            )
        )
        jobs.register(
            Job(
                "communication-no-contact-reminders",
                task="communications.tasks.send_no_contact_reminders",
                label=_("No-contact reminders for important customers"),
                schedule=crontab(hour=8, minute=20),
            )
        )
        audit_labels.register(
            {
                "crm.communication.created": _("Communication logged"),
                "crm.communication.updated": _("Communication changed"),
                "crm.communication.deleted": _("Communication deleted"),
                "crm.communication.sentiment_overridden": _("Communication sentiment overridden"),
                "crm.communication.sentiment_reset": _("Communication sentiment reset to the analysis"),
                "crm.communication.follow_up_done": _("Follow-up done"),
            }
        )

    def _register_personal_data(self) -> None:
        """Erasure and export of a contact reach its communications, their analyses and follow-ups (privacy)."""
        from communications.models import Communication, CommunicationAnalysis, FollowUp
        from privacy.registry import PersonalData, RetentionClass, personal_data, retention_classes

        personal_data.register(
            PersonalData(
                "communications.communication",
                Communication,
                fields=("subject", "content", "outcome", "next_action"),
                contact_field="contact",
            )
        )
        personal_data.register(
            PersonalData("communications.analysis", CommunicationAnalysis, fields=("keywords", "needs"))
        )
        personal_data.register(PersonalData("communications.followup", FollowUp, fields=("action",)))
        retention_classes.register(
            RetentionClass(
                "communications",
                _("Communications"),
                Communication.objects.all,
                "communication_date",
                default_days=5 * 365,
                weight=10,
            )
        )
