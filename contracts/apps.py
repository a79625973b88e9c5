from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = _("Contracts")

    def ready(self) -> None:
        from accounts.context_processors import NAV_ITEMS
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        read = {"contracts.view_contract"}
        write = read | {"contracts.add_contract", "contracts.change_contract", "contracts.add_changerequest"}
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
        NAV_ITEMS.insert(2, (_("Contracts"), "contracts:contract_list", "contracts.view_contract"))
