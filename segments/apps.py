from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        read = {"segments.view_segment"}
        write = read | {"segments.add_segment", "segments.change_segment"}
        manage = write | {"segments.delete_segment"}
        register_role_permissions({TENANT_ADMIN: manage, CS_LEAD: manage, CSM: write, FINANCE: read, VIEWER: read})
        self._register_extensions()

    def _register_extensions(self) -> None:
        from celery.schedules import crontab

        from accounts.registry import Job, NavItem, audit_labels, jobs, nav_items

        nav_items.register(NavItem("segments", _("Segments"), "segments:segment_list", "segments.view_segment", 60))
        jobs.register(
            Job(
                "compute_rfm",
                "segments.tasks.compute_rfm",
                _("Score RFM segments and behavioural clusters"),
                schedule=crontab(hour=2, minute=30),
            )
        )
        jobs.register(
            Job(
                "evaluate_segments",
                "segments.tasks.evaluate_segments",
                _("Re-evaluate rule segments"),
                schedule=crontab(hour=2, minute=45),
            )
        )
        jobs.register(
            Job(
                "maintain_system_tags",
                "segments.tasks.maintain_system_tags",
                _("Maintain system tags (high value, renewal due, at risk)"),
                schedule=crontab(hour=3, minute=0),
            )
        )
        audit_labels.register(
            {
                "crm.segment.created": _("Segment created"),
                "crm.segment.updated": _("Segment updated"),
                "crm.segment.deleted": _("Segment deleted"),
                "crm.segment.evaluated": _("Segment re-evaluated"),
            }
        )
