from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
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
            "customers.view_contact_details",
        }
        register_role_permissions(
            {
                TENANT_ADMIN: everything,
                CS_LEAD: everything,
                CSM: {
                    "customers.view_customer",
                    "customers.view_contact_details",
                    "customers.add_customer",
                    "customers.change_customer",
                    "customers.export_customer",
                },
                FINANCE: {"customers.view_customer"},
                VIEWER: {"customers.view_customer"},
            }
        )
        from customers import receivers  # noqa: F401  (cache invalidation receivers)

        self._register_extensions()

    def _register_extensions(self) -> None:
        from accounts.registry import NavItem, audit_labels, nav_items
        from customers import masking, views
        from customers.extensions import CustomerTab, TimelineSource, customer_tabs, timeline_sources

        nav_items.register(
            NavItem("customers", _("Customers"), "customers:customer_list", "customers.view_customer", 20)
        )
        for tab in (
            CustomerTab(
                "overview",
                _("Overview"),
                "customers/tabs/_overview.html",
                weight=10,
                context=lambda request, customer: {
                    **views.share_context(request, customer),
                    **masking.overview_unmask_context(request, customer),
                },
            ),
            CustomerTab(
                "contacts",
                _("Contacts"),
                "customers/tabs/_contacts.html",
                weight=20,
                count=lambda customer: len(customer.contacts.all()),
                context=masking.contacts_tab_context,
            ),
            CustomerTab("tags", _("Tags"), "customers/tabs/_tags.html", weight=30, count=lambda c: len(c.tags.all())),
            CustomerTab(
                "timeline", _("Timeline"), "customers/tabs/_timeline.html", weight=900, context=views.timeline_context
            ),
            CustomerTab("duplicates", _("Duplicates"), url_name="customers:customer_duplicates", weight=1000),
        ):
            customer_tabs.register(tab)
        timeline_sources.register(TimelineSource("audit", views.audit_timeline_entries, weight=1000))
        audit_labels.register(
            {
                "crm.customer.created": _("Customer created"),
                "crm.customer.updated": _("Customer updated"),
                "crm.customer.reassigned": _("Customer reassigned"),
                "crm.customer.deleted": _("Customer deleted"),
                "crm.customer.shared": _("Customer shared"),
                "crm.customer.unshared": _("Share removed"),
                "crm.customer.merged": _("Customers merged"),
                "crm.customer.imported": _("Customer imported"),
                "crm.customer.exported": _("Customers exported"),
                "crm.customer.status_changed": _("Customer status changed"),
                "crm.contact.created": _("Contact added"),
                "privacy.contact_details.viewed": _("Contact details viewed unmasked"),
                "crm.contact.updated": _("Contact changed"),
                "crm.contact.deleted": _("Contact removed"),
                "crm.tag.added": _("Tag added"),
                "crm.tag.updated": _("Tag changed"),
                "crm.tag.removed": _("Tag removed"),
            }
        )
