from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = _("Contracts")

    def ready(self) -> None:
        from accounts.registry import DemoStep, VolumeStep, demo_steps, volume_steps
        from contracts import demo

        demo_steps.register(DemoStep("contracts", demo.run, weight=10))
        volume_steps.register(
            VolumeStep("contracts", "contracts.volume.run", weight=10, tables=("contracts.Contract",))
        )
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        read = {"contracts.view_contract"}
        # Export follows what customers.export_customer had: admins, leads and CSMs (for what they see).
        write = read | {
            "contracts.add_contract",
            "contracts.change_contract",
            "contracts.add_changerequest",
            "contracts.export_contract",
        }
        manage = write | {"contracts.sign_contract", "contracts.approve_changerequest", "contracts.delete_contract"}
        register_role_permissions(
            {
                TENANT_ADMIN: manage | {"contracts.view_contract_amount"},
                CS_LEAD: manage | {"contracts.view_contract_amount"},
                CSM: write,
                FINANCE: read | {"contracts.view_contract_amount", "contracts.change_contract"},
                VIEWER: read,
            }
        )
        self._register_extensions()
        self._register_personal_data()
        self._register_jobs()

    def _register_jobs(self) -> None:
        from celery.schedules import crontab

        from accounts.registry import Job, jobs

        jobs.register(
            Job(
                "expire_contracts",
                "contracts.tasks.expire_contracts",
                _("Expire ended contracts, auto-renew, lapse customers"),
                schedule=crontab(hour=0, minute=30),
            )
        )
        jobs.register(
            Job(
                "send_renewal_reminders",
                "contracts.tasks.send_renewal_reminders",
                _("Send renewal reminders"),
                schedule=crontab(hour=8, minute=0),
            )
        )

    def _register_extensions(self) -> None:
        from accounts.registry import NavItem, audit_labels, nav_items
        from contracts import receivers, views
        from customers.extensions import CustomerTab, TimelineSource, customer_tabs, timeline_sources

        nav_items.register(
            NavItem("contracts", _("Contracts"), "contracts:contract_list", "contracts.view_contract", 30)
        )
        customer_tabs.register(
            CustomerTab(
                "contracts",
                _("Contracts"),
                "contracts/_customer_contracts_tab.html",
                permission="contracts.view_contract",
                weight=40,
                context=views.customer_contracts_tab_context,
            )
        )
        timeline_sources.register(
            TimelineSource(
                "contracts", receivers.contract_timeline_entries, permission="contracts.view_contract", weight=100
            )
        )
        audit_labels.register(
            {
                "crm.contract.created": _("Contract created"),
                "crm.contract.updated": _("Contract updated"),
                "crm.contract.signed": _("Contract signed"),
                "crm.contract.terminated": _("Contract terminated"),
                "crm.contract.renewed": _("Contract renewed"),
                "crm.contract.expired": _("Contract expired"),
                "crm.contract.moved": _("Contract moved to another customer"),
                "crm.contract.change_requested": _("Contract change requested"),
                "crm.contract.change_approved": _("Contract change approved"),
                "crm.contract.change_rejected": _("Contract change rejected"),
                "crm.contract.sla_set": _("SLA binding set"),
                "crm.contract.milestone_saved": _("Milestone saved"),
                "crm.contract.document_generated": _("Contract document generated"),
                "crm.invoice.upserted": _("Invoice recorded"),
                "crm.payment.upserted": _("Payment recorded"),
            }
        )

    def _register_personal_data(self) -> None:
        """Contract documents and versions carry the primary contact's details: erasure and export reach them."""
        from contracts.models import ChangeRequest, Contract, ContractVersion
        from privacy.registry import PersonalData, personal_data

        personal_data.register(
            PersonalData("contracts.contract", Contract, fields=("contract_name", "terminated_reason", "document_html"))
        )
        personal_data.register(PersonalData("contracts.version", ContractVersion, fields=("snapshot",)))
        personal_data.register(
            PersonalData("contracts.change_request", ChangeRequest, fields=("reason", "changes", "decision_note"))
        )
