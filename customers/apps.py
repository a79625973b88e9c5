from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from accounts.context_processors import NAV_ITEMS
        from accounts.roles import CS_LEAD, CSM, FINANCE, TENANT_ADMIN, VIEWER, register_role_permissions

        everything = {
            "customers.view_customer",
            "customers.add_customer",
            "customers.change_customer",
            "customers.delete_customer",
            "customers.assign_customer",
            "customers.export_customer",
            "customers.import_customer",
            "customers.merge_customer",
        }
        register_role_permissions(
            {
                TENANT_ADMIN: everything,
                CS_LEAD: everything,
                CSM: {
                    "customers.view_customer",
                    "customers.add_customer",
                    "customers.change_customer",
                    "customers.export_customer",
                },
                FINANCE: {"customers.view_customer"},
                VIEWER: {"customers.view_customer"},
            }
        )
        from customers import signals  # noqa: F401  (cache invalidation receivers)

        NAV_ITEMS.insert(1, (_("Customers"), "customers:customer_list", "customers.view_customer"))
