"""Django admin for customers, contacts and tags, scoped to the admin's tenant.

Decisions:
- **No "add" and no hard delete of customers here.** New customers are created in the staff UI (or the API or an
  import), which runs services.customer_create: generated code, duplicate check, derived keys, audit. Deleting is
  the staff UI's soft delete (services.customer_delete); a hard delete here would lose the audit trail.
- **Changes go through the services.** The customer form and its contact and tag inlines are saved with
  services.customer_update / contact_* / tag_*, so derived keys (normalised name, website domain) stay right, the
  primary-contact rule holds and every change is audited. When a service refuses (duplicate name, invalid value),
  the whole save is rolled back and the change page shows the reason.
- Contacts and tags have their own (read-only) lists for searching; they are edited as inlines of their customer.
  Their admin permissions follow the customer's (view / change), since roles only grant customer permissions.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin_mixins import AdminServiceRefused, ObjectTenantScopeMixin, TenantScopedAdminMixin
from accounts.models import User
from accounts.roles import (
    CONTACT_DETAIL_FIELDS,
    MASK,
    can_see_amounts,
    can_see_contact_details,
    mask_contact_detail,
)
from accounts.tenancy import tenant_scope
from crm_project.crypto import BlindIndexSearchMixin
from customers import selectors, services
from customers.choices import CustomerStatus
from customers.models import Customer, CustomerContact, CustomerTag


def _refusal_text(exc: Exception, request) -> str:
    if isinstance(exc, services.CustomerDuplicate):
        if not selectors.customers_visible_to(request.user).filter(pk=exc.existing.pk).exists():
            return _("A customer with this name already exists; ask your lead to share it with you.")
        return _("A customer with this name already exists: %(name)s (%(code)s).") % {
            "name": exc.existing.customer_name,
            "code": exc.existing.customer_code,
        }
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in exc.message_dict.items())
        return " ".join(exc.messages)
    return str(exc)


class CustomerPermissionsMixin:
    """Contacts and tags are part of the customer: viewing needs view_customer, editing change_customer."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("customers.view_customer") or request.user.has_perm("customers.change_customer")

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("customers.change_customer")

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("customers.change_customer")

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("customers.change_customer")


class CustomerVisibilityMixin:
    """A staff user who is not an administrator sees in the admin only the customers the pages show them
    (customers.selectors.customers_visible_to: a CSM their assigned and shared customers)."""

    customer_path = "pk"

    def visible_queryset(self, request, queryset):
        if selectors.sees_all_customers(request.user):
            return queryset
        visible = selectors.customers_visible_to(request.user, include_deleted=True).values("pk")
        return queryset.filter(**{f"{self.customer_path}__in": visible})


class CustomerContactInline(TenantScopedAdminMixin, CustomerPermissionsMixin, admin.TabularInline):
    model = CustomerContact
    extra = 0
    fields = [
        "contact_name",
        "position",
        "department",
        "mobile",
        "phone",
        "email",
        "wechat",
        "is_primary",
        "is_decision_maker",
        "influence_level",
        "contact_preference",
    ]


class CustomerTagInline(TenantScopedAdminMixin, CustomerPermissionsMixin, admin.TabularInline):
    model = CustomerTag
    extra = 0
    fields = ["tag_name", "tag_type", "tag_category", "tag_value", "confidence"]


class MarkLostActionForm(ActionForm):
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=200)


class DeletedFilter(admin.SimpleListFilter):
    title = gettext_lazy("deleted")
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", gettext_lazy("Live")), ("yes", gettext_lazy("Deleted"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Customer)
class CustomerAdmin(
    BlindIndexSearchMixin, ObjectTenantScopeMixin, CustomerVisibilityMixin, TenantScopedAdminMixin, admin.ModelAdmin
):
    list_display = [
        "customer_code",
        "customer_name",
        "customer_type",
        "industry",
        "status",
        "level",
        "assigned_manager",
        "health_score",
        "deleted_at",
    ]
    list_display_links = ["customer_code", "customer_name"]
    list_filter = ["status", "level", "customer_type", "industry", DeletedFilter]
    list_select_related = ["assigned_manager"]
    search_fields = [
        "customer_name",
        "customer_code",
        "contacts__contact_name",
    ]
    # Contact details are encrypted: searched by their blind index (the exact e-mail or number).
    blind_search = {"contacts__email_bidx": "email", "contacts__mobile_bidx": "phone"}
    search_help_text = gettext_lazy("Name, code, or a contact's name, e-mail or mobile.")
    fields = [
        "customer_code",
        "customer_name",
        "customer_type",
        "industry",
        "scale",
        "region",
        "address",
        "website",
        "description",
        "status",
        "level",
        "source",
        "assigned_manager",
        "health_score",
        "ltv",
        "last_contact_date",
        "next_renewal_date",
        "created_at",
        "updated_at",
        "deleted_at",
        "merged_into",
    ]
    readonly_fields = [
        "customer_code",
        "status",
        "health_score",
        "ltv",
        "last_contact_date",
        "next_renewal_date",
        "created_at",
        "updated_at",
        "deleted_at",
        "merged_into",
    ]
    inlines = [CustomerContactInline, CustomerTagInline]
    action_form = MarkLostActionForm

    @staticmethod
    def _money_fields(request, names):
        """Money follows the amount permission (accounts.roles): without it `ltv` shows as ***."""
        if can_see_amounts(request.user):
            return list(names)
        return ["ltv_masked" if name == "ltv" else name for name in names]

    def get_fields(self, request, obj=None):
        return self._money_fields(request, super().get_fields(request, obj))

    def get_readonly_fields(self, request, obj=None):
        return self._money_fields(request, super().get_readonly_fields(request, obj))

    @admin.display(description=gettext_lazy("lifetime value"))
    def ltv_masked(self, obj):
        return MASK

    actions = ["mark_lost"]

    @admin.action(description=gettext_lazy("Mark as lost (give the reason)"), permissions=["change"])
    def mark_lost(self, request, queryset):
        """The administrator's manual potential/formal → lost, with the reason typed next to the action."""
        reason = (request.POST.get("reason") or "").strip()
        if not reason:
            self.message_user(request, _("Type the reason next to the action."), messages.ERROR)
            return
        changed = refused = 0
        for customer in queryset.select_related("tenant"):
            with tenant_scope(customer.tenant):
                try:
                    if services.customer_status_change(
                        customer=customer,
                        new_status=CustomerStatus.LOST,
                        reason=reason,
                        actor=request.user,
                        request=request,
                        manual=True,
                    ):
                        changed += 1
                except ValidationError:
                    refused += 1
        self.message_user(request, _("%(count)d customer(s) marked as lost.") % {"count": changed}, messages.SUCCESS)
        if refused:
            self.message_user(
                request, _("%(count)d customer(s) could not be marked as lost.") % {"count": refused}, messages.WARNING
            )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assigned_manager":
            users = User.objects.filter(is_active=True)
            if not request.user.is_superuser:
                users = users.filter(tenant_id=request.user.tenant_id)
            kwargs["queryset"] = users.order_by("display_name", "username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # `obj` already carries the form's values; the service needs the stored row to diff and audit.
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in services.CUSTOMER_FIELDS}
        with tenant_scope(obj.tenant):
            stored = Customer.objects.get(pk=obj.pk)
            try:
                services.customer_update(actor=request.user, customer=stored, data=data, request=request)
            except (services.CustomerDuplicate, ValidationError, PermissionDenied) as exc:
                raise AdminServiceRefused(_refusal_text(exc, request)) from exc

    def save_formset(self, request, form, formset, change):
        customer = form.instance
        with tenant_scope(customer.tenant):
            try:
                if formset.model is CustomerContact:
                    self._save_contacts(request, customer, formset)
                elif formset.model is CustomerTag:
                    self._save_tags(request, customer, formset)
                else:  # pragma: no cover - no other inlines
                    super().save_formset(request, form, formset, change)
            except (ValidationError, PermissionDenied) as exc:
                raise AdminServiceRefused(_refusal_text(exc, request)) from exc

    @staticmethod
    def _stored(model, rows):
        ids = [row.instance.pk for row in rows if row.instance.pk]
        return model.objects.in_bulk(ids)

    @staticmethod
    def _rows(formset):
        """(deleted rows, changed or new rows), and the bookkeeping the admin's change message reads."""
        deleted = [row for row in formset.initial_forms if row in formset.deleted_forms]
        changed = [row for row in formset.forms if row not in deleted and row.has_changed()]
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        return deleted, changed

    def _save_contacts(self, request, customer, formset):
        deleted, changed = self._rows(formset)
        stored = self._stored(CustomerContact, deleted + changed)
        for row in deleted:
            contact = stored[row.instance.pk]
            services.contact_delete(actor=request.user, contact=contact, request=request)
            formset.deleted_objects.append(contact)
        # Any order: making a contact primary demotes the old primary inside the service.
        for row in changed:
            if row.instance.pk:
                data = {name: row.cleaned_data[name] for name in row.changed_data if name in services.CONTACT_FIELDS}
                contact = stored[row.instance.pk]
                services.contact_update(actor=request.user, contact=contact, data=data, request=request)
                formset.changed_objects.append((contact, list(data)))
            else:
                data = {name: value for name, value in row.cleaned_data.items() if name in services.CONTACT_FIELDS}
                contact = services.contact_create(actor=request.user, customer=customer, data=data, request=request)
                formset.new_objects.append(contact)

    def _save_tags(self, request, customer, formset):
        deleted, changed = self._rows(formset)
        stored = self._stored(CustomerTag, deleted + changed)
        for row in deleted:
            tag = stored[row.instance.pk]
            services.tag_remove(actor=request.user, tag=tag, request=request)
            formset.deleted_objects.append(tag)
        for row in changed:
            if row.instance.pk:
                data = {name: row.cleaned_data[name] for name in row.changed_data if name in services.TAG_FIELDS}
                tag = stored[row.instance.pk]
                services.tag_update(actor=request.user, tag=tag, data=data, request=request)
                formset.changed_objects.append((tag, list(data)))
            else:
                data = {name: value for name, value in row.cleaned_data.items() if name in services.TAG_FIELDS}
                formset.new_objects.append(
                    services.tag_add(actor=request.user, customer=customer, data=data, request=request)
                )


class ReadOnlyCustomerPartAdmin(
    CustomerVisibilityMixin, TenantScopedAdminMixin, CustomerPermissionsMixin, admin.ModelAdmin
):
    """Searchable list; editing happens in the customer's inlines."""

    customer_path = "customer_id"

    list_select_related = ["customer"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CustomerContact)
class CustomerContactAdmin(BlindIndexSearchMixin, ReadOnlyCustomerPartAdmin):
    list_display = ["contact_name", "customer", "position", "mobile", "email", "is_primary", "is_decision_maker"]
    list_filter = ["is_primary", "is_decision_maker", "influence_level"]
    search_fields = ["contact_name", "customer__customer_name", "customer__customer_code"]
    blind_search = {"email_bidx": "email", "mobile_bidx": "phone", "phone_bidx": "phone"}

    # One masking rule here too: without the contact-details permission the list and the page show masked values.
    def get_list_display(self, request):
        if can_see_contact_details(request.user):
            return self.list_display
        return [{"mobile": "masked_mobile", "email": "masked_email"}.get(f, f) for f in self.list_display]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if can_see_contact_details(request.user):
            return fields
        return [f"masked_{f}" if f in CONTACT_DETAIL_FIELDS else f for f in fields]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *(f"masked_{f}" for f in CONTACT_DETAIL_FIELDS)]

    @admin.display(description=gettext_lazy("mobile"))
    def masked_mobile(self, obj):
        return mask_contact_detail("mobile", obj.mobile)

    @admin.display(description=gettext_lazy("phone"))
    def masked_phone(self, obj):
        return mask_contact_detail("phone", obj.phone)

    @admin.display(description=gettext_lazy("e-mail"))
    def masked_email(self, obj):
        return mask_contact_detail("email", obj.email)

    @admin.display(description=gettext_lazy("WeChat"))
    def masked_wechat(self, obj):
        return mask_contact_detail("wechat", obj.wechat)


@admin.register(CustomerTag)
class CustomerTagAdmin(ReadOnlyCustomerPartAdmin):
    list_display = ["tag_name", "customer", "tag_type", "tag_category", "confidence", "created_at"]
    list_filter = ["tag_type", "tag_category"]
    search_fields = ["tag_name", "customer__customer_name", "customer__customer_code"]
