from django.apps import AppConfig
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Customer portal")

    def ready(self) -> None:
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        read = {"portal.view_portalaccount", "portal.view_successgoal", "portal.view_kbarticle"}
        write = read | {
            "portal.add_portalaccount",
            "portal.change_portalaccount",
            "portal.add_successgoal",
            "portal.change_successgoal",
            "portal.add_csmmessage",
        }
        kb = {
            "portal.add_kbarticle",
            "portal.change_kbarticle",
            "portal.view_kbcategory",
            "portal.add_kbcategory",
            "portal.change_kbcategory",
            "portal.view_diagnosischecklist",
            "portal.add_diagnosischecklist",
            "portal.change_diagnosischecklist",
        }
        register_role_permissions(
            {
                TENANT_ADMIN: write | kb | {"portal.view_webhookdelivery", "portal.change_ticketwebhook"},
                CS_LEAD: write | kb,
                CSM: write | kb,
                FINANCE: read,
                VIEWER: read,
            }
        )
        self._register_extensions()
        self._register_personal_data()

    def _register_extensions(self) -> None:
        from accounts.registry import NavItem, audit_labels, nav_items
        from customers.extensions import CustomerTab, TimelineSource, customer_tabs, timeline_sources
        from portal import staff_views, timeline

        nav_items.register(
            NavItem("portal_kb", _("Knowledge base"), "portal_staff:kb_list", "portal.view_kbarticle", 700)
        )
        customer_tabs.register(
            CustomerTab(
                "portal",
                _("Portal & success plan"),
                "portal/staff/_customer_tab.html",
                permission="portal.view_portalaccount",
                weight=60,
                context=staff_views.customer_tab_context,
            )
        )
        timeline_sources.register(
            TimelineSource("portal", timeline.entries, permission="portal.view_successgoal", weight=300)
        )
        audit_labels.register(
            {
                "crm.portal.invited": _("Portal invitation sent"),
                "crm.portal.password_set": _("Portal password set"),
                "crm.portal.login": _("Portal sign-in"),
                "crm.portal.login_failed": _("Portal sign-in failed"),
                "crm.portal.logout": _("Portal sign-out"),
                "crm.portal.reset_requested": _("Portal password reset requested"),
                "crm.portal.totp_enabled": _("Portal two-step sign-in enabled"),
                "crm.portal.totp_disabled": _("Portal two-step sign-in disabled"),
                "crm.portal.deactivated": _("Portal access ended"),
                "crm.portal.viewed": _("Portal page viewed"),
                "crm.portal.downloaded": _("Portal document downloaded"),
                "crm.portal.submitted": _("Portal form sent"),
                "crm.portal.request_created": _("Service request from the portal"),
                "crm.portal.ticket_rated": _("Ticket rated in the portal"),
                "crm.portal.suggestion_sent": _("Suggestion sent from the portal"),
                "crm.portal.nps_answered": _("NPS answered in the portal"),
                "crm.portal.message_posted": _("Message for the portal posted"),
                "crm.portal.goal_saved": _("Success goal saved"),
                "crm.portal.milestone_saved": _("Success milestone saved"),
                "crm.portal.milestone_done": _("Success milestone done"),
                "crm.portal.goal_commented": _("Success goal commented"),
                "crm.portal.article_saved": _("Knowledge base article saved"),
                "crm.portal.article_published": _("Knowledge base article published or withdrawn"),
                "crm.portal.category_saved": _("Knowledge base category saved"),
                "crm.portal.checklist_saved": _("Self-diagnosis checklist saved"),
                "crm.portal.webhook_delivered": _("Ticket webhook delivered"),
                "crm.portal.webhook_failed": _("Ticket webhook failed"),
            }
        )

    def _register_personal_data(self) -> None:
        """A contact's portal account is deleted on erasure (its e-mail is the contact's); texts are scrubbed."""
        from crm_project.crypto import blind_index
        from portal.models import CsmMessage, GoalComment, PortalAccount, SuccessGoal, Suggestion, WebhookDelivery
        from privacy.registry import PersonalData, personal_data

        def erase_accounts(ctx) -> int:
            digest = blind_index("email", ctx.contact.email)
            match = Q(contact_id=ctx.contact.pk) | (Q(email_bidx=digest) if digest else Q(pk__in=[]))
            return PortalAccount._base_manager.filter(match, tenant_id=ctx.tenant.pk).delete()[0]

        personal_data.register(
            PersonalData(
                "portal.account",
                PortalAccount,
                fields=("email",),
                contact_field="contact",
                erase=erase_accounts,
                weight=20,
            )
        )
        personal_data.register(PersonalData("portal.csm_message", CsmMessage, fields=("body",)))
        personal_data.register(PersonalData("portal.suggestion", Suggestion, fields=("body",)))
        personal_data.register(PersonalData("portal.goal_comment", GoalComment, fields=("author_name", "body")))
        personal_data.register(PersonalData("portal.goal", SuccessGoal, fields=("outcome", "measure")))
        personal_data.register(
            PersonalData("portal.webhook_delivery", WebhookDelivery, fields=("url", "payload", "last_error"))
        )
