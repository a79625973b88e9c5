from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        read = {"segments.view_segment", "segments.view_campaign"}
        write = read | {"segments.add_segment", "segments.change_segment", "segments.change_tagsuggestion"}
        manage = write | {
            "segments.delete_segment",
            "segments.add_campaign",
            "segments.change_campaign",
            "segments.delete_campaign",
            "segments.launch_campaign",
        }
        register_role_permissions({TENANT_ADMIN: manage, CS_LEAD: manage, CSM: write, FINANCE: read, VIEWER: read})
        self._register_extensions()

    def _register_extensions(self) -> None:
        from celery.schedules import crontab

        from accounts.registry import Job, NavItem, audit_labels, jobs, nav_items
        from customers.extensions import CustomerTab, customer_tabs
        from segments import views

        nav_items.register(NavItem("segments", _("Segments"), "segments:segment_list", "segments.view_segment", 60))
        nav_items.register(NavItem("campaigns", _("Campaigns"), "segments:campaign_list", "segments.view_campaign", 61))
        customer_tabs.register(
            CustomerTab(
                "tag_suggestions",
                _("Tag recommendations"),
                "segments/_tag_suggestions_tab.html",
                permission="customers.view_customer",
                weight=95,
                context=views.tag_suggestions_tab_context,
            )
        )
        jobs.register(
            Job(
                "maintain_smart_tags",
                "segments.tasks.maintain_smart_tags",
                _("Automatic tags and tag recommendations"),
                schedule=crontab(hour=3, minute=15),
            )
        )
        jobs.register(
            Job(
                "attribute_campaigns",
                "segments.tasks.attribute_campaigns",
                _("Attribute campaign outcomes"),
                schedule=crontab(hour=3, minute=30),
            )
        )
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
        jobs.register(
            Job(
                "contact_campaigns",
                "segments.tasks.contact_campaigns",
                _("Finish contacting the members of launched campaigns"),
                schedule=crontab(minute="*/10"),
            )
        )
        audit_labels.register(
            {
                "crm.segment.created": _("Segment created"),
                "crm.segment.updated": _("Segment updated"),
                "crm.segment.deleted": _("Segment deleted"),
                "crm.segment.evaluated": _("Segment re-evaluated"),
                "crm.tag_suggestion.accepted": _("Tag recommendation accepted"),
                "crm.tag_suggestion.dismissed": _("Tag recommendation dismissed"),
                "crm.campaign.created": _("Campaign created"),
                "crm.campaign.updated": _("Campaign updated"),
                "crm.campaign.deleted": _("Campaign deleted"),
                "crm.campaign.launched": _("Campaign launched"),
            }
        )
