"""Django admin for the contract library (templates, clauses, SLA policies) and read-only contract records.

Decisions:
- **Scoped like every admin:** `TenantScopedAdminMixin` shows a tenant admin only their tenant's rows; a superuser
  sees all, and a change page runs inside the edited row's tenant scope (so inline rows and choices belong to it).
- **The library is edited here.** Templates (with their ordered clauses), clauses and SLA policies are tenant
  configuration: the tenant administrator manages them (as does anyone granted the model's Django permission).
  New rows take their tenant from the active scope (the admin user's tenant), so a user without a tenant (a bare
  superuser) cannot add any. Template bodies and clause texts must compile in the document sandbox, and SLA targets
  must have the shape the SLA bindings use; otherwise the form shows the error.
- **Contracts, change requests, invoices and payments are read-only here.** They are created and changed in the
  staff UI and the API, whose services keep versions, rules and the audit trail. Amounts (and change requests'
  before/after values) are only shown to users who may see contract amounts.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin_mixins import ObjectTenantScopeMixin, ReadOnlyAdmin, TenantScopedAdminMixin
from accounts.roles import TENANT_ADMIN
from accounts.services import audit_record
from contracts.choices import TicketPriority
from contracts.documents import TemplateRenderError, compile_template_text, document_url
from contracts.masking import can_see_amount
from contracts.models import (
    ChangeRequest,
    Clause,
    Contract,
    ContractSlaBinding,
    ContractTemplate,
    Invoice,
    Payment,
    SlaPolicy,
    TemplateClause,
)

SLA_TARGET_KEYS = ("first_response_minutes", "resolution_minutes")


def may_manage_library(user, action: str, model) -> bool:
    """The tenant administrator manages the contract library; others need the model's Django permission."""
    if user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}"):
        return True
    has_role = getattr(user, "has_role", None)
    return bool(has_role and has_role(TENANT_ADMIN))


def _can_see_contracts(user) -> bool:
    return user.has_perm("contracts.view_contract")


def _can_see_amounts(user) -> bool:
    return user.has_perm("contracts.view_contract") and can_see_amount(user)


def _short(value: Any) -> Any:
    text = value if isinstance(value, (int, float, bool)) or value is None else str(value)
    return text[:200] if isinstance(text, str) else text


class LibraryAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    """Templates, clauses and SLA policies: managed by the tenant administrator, every change audited."""

    audit_name = ""

    def has_view_permission(self, request, obj=None):
        return may_manage_library(request.user, "view", self.model) or self.has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return may_manage_library(request.user, "change", self.model)

    def has_add_permission(self, request):
        # New rows belong to the admin user's tenant (from the request's scope): no tenant, nothing to add to.
        return request.user.tenant_id is not None and may_manage_library(request.user, "add", self.model)

    def has_delete_permission(self, request, obj=None):
        return may_manage_library(request.user, "delete", self.model)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changes = {
            name: (_short(form.initial.get(name)), _short(form.cleaned_data.get(name))) for name in form.changed_data
        }
        audit_record(
            action=f"crm.{self.audit_name}.{'updated' if change else 'created'}",
            actor=request.user,
            obj=obj,
            changes=changes,
            request=request,
            tenant=obj.tenant,
        )

    def delete_model(self, request, obj):
        audit_record(
            action=f"crm.{self.audit_name}.deleted", actor=request.user, obj=obj, request=request, tenant=obj.tenant
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


# --- Clauses --------------------------------------------------------------------------------------------------------
class ClauseForm(forms.ModelForm):
    class Meta:
        model = Clause
        fields = ["title", "category", "body", "is_active"]
        help_texts = {
            "body": _(
                "Plain text (blank lines separate paragraphs) or HTML. It may use the same placeholders as a "
                "template, e.g. {{ customer.customer_name }}, {{ amount }} or {{ sla_table }}."
            )
        }

    def clean_body(self):
        body = self.cleaned_data["body"]
        try:
            compile_template_text(body, clause=self.cleaned_data.get("title") or gettext("clause"))
        except TemplateRenderError as exc:
            raise forms.ValidationError(exc.message, code="template_error") from exc
        return body


@admin.register(Clause)
class ClauseAdmin(LibraryAdmin):
    audit_name = "contract_clause"
    form = ClauseForm
    list_display = ["title", "category", "is_active"]
    list_filter = ["is_active", "category"]
    search_fields = ["title", "category", "body"]


# --- Templates ------------------------------------------------------------------------------------------------------
class TemplateClauseInline(TenantScopedAdminMixin, admin.TabularInline):
    model = TemplateClause
    fields = ["position", "clause"]
    ordering = ["position", "id"]
    extra = 1
    verbose_name = _("clause")
    verbose_name_plural = _("clauses (in order of position)")

    def _allowed(self, request) -> bool:
        return may_manage_library(request.user, "change", ContractTemplate)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request) or may_manage_library(request.user, "view", ContractTemplate)

    def has_add_permission(self, request, obj=None):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clause":
            # The change page runs in the template's tenant scope: only that tenant's clauses are choices.
            kwargs["queryset"] = Clause.objects.order_by("category", "title")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ContractTemplateForm(forms.ModelForm):
    class Meta:
        model = ContractTemplate
        fields = ["name", "body", "is_active"]
        widgets = {"body": forms.Textarea(attrs={"rows": 24, "cols": 100})}
        help_texts = {
            "body": _(
                "HTML or plain text with placeholders: {{ customer.customer_name }}, {{ contract.contract_code }}, "
                "{{ amount }}, {{ start_date }}, {{ end_date }}, {{ today }}, {{ provider.name }}, {{ sla_table }}, "
                "and a for loop over clauses (each with number, title and body). Loading tag libraries and "
                "including other templates or files are not available."
            )
        }

    def clean_body(self):
        body = self.cleaned_data["body"]
        try:
            compile_template_text(body)
        except TemplateRenderError as exc:
            raise forms.ValidationError(exc.message, code="template_error") from exc
        return body


@admin.register(ContractTemplate)
class ContractTemplateAdmin(LibraryAdmin):
    audit_name = "contract_template"
    form = ContractTemplateForm
    list_display = ["name", "clause_count", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "body"]
    inlines = [TemplateClauseInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_clause_count=Count("template_clauses"))

    @admin.display(description=_("clauses"), ordering="_clause_count")
    def clause_count(self, obj):
        return obj._clause_count


# --- SLA policies ---------------------------------------------------------------------------------------------------
class SlaPolicyForm(forms.ModelForm):
    class Meta:
        model = SlaPolicy
        fields = ["name", "service_hours", "availability_target", "targets", "business_calendar"]
        help_texts = {
            "targets": _(
                'Per priority (P1 to P4), e.g. {"P1": {"first_response_minutes": 15, "resolution_minutes": 240}}.'
            )
        }

    def clean_targets(self):
        targets = self.cleaned_data.get("targets") or {}
        if not isinstance(targets, dict):
            raise forms.ValidationError(_("Targets must be an object keyed by priority."), code="invalid")
        priorities = set(TicketPriority.values)
        for priority, target in targets.items():
            if priority not in priorities:
                raise forms.ValidationError(
                    _("Unknown priority %(priority)s; use %(choices)s."),
                    code="invalid",
                    params={"priority": priority, "choices": ", ".join(TicketPriority.values)},
                )
            if not isinstance(target, dict) or any(
                not isinstance(target.get(key), int) or isinstance(target.get(key), bool) or target.get(key) < 1
                for key in SLA_TARGET_KEYS
            ):
                raise forms.ValidationError(
                    _("%(priority)s needs first_response_minutes and resolution_minutes as whole minutes (1 or more)."),
                    code="invalid",
                    params={"priority": priority},
                )
            if target["resolution_minutes"] < target["first_response_minutes"]:
                raise forms.ValidationError(
                    _("%(priority)s: resolution cannot be faster than the first response."),
                    code="invalid",
                    params={"priority": priority},
                )
        return targets


@admin.register(SlaPolicy)
class SlaPolicyAdmin(LibraryAdmin):
    audit_name = "sla_policy"
    form = SlaPolicyForm
    list_display = ["name", "service_hours", "availability_target", "priorities"]
    list_filter = ["service_hours"]
    search_fields = ["name"]

    @admin.display(description=_("targets per priority"))
    def priorities(self, obj):
        targets = obj.targets if isinstance(obj.targets, dict) else {}
        return format_html_join(
            ", ",
            "{} {}/{}",
            (
                (priority, value.get("first_response_minutes", "?"), value.get("resolution_minutes", "?"))
                for priority, value in sorted(targets.items())
                if isinstance(value, dict)
            ),
        )


# --- Contracts and their records (read-only) ------------------------------------------------------------------------
class ContractRecordAdmin(ObjectTenantScopeMixin, TenantScopedAdminMixin, ReadOnlyAdmin):
    """Read-only; visible with the contract view permission (and amounts with view_contract_amount)."""

    needs_amounts = False

    def has_view_permission(self, request, obj=None):
        if self.needs_amounts:
            return _can_see_amounts(request.user)
        return _can_see_contracts(request.user)


class ContractSlaBindingInline(TenantScopedAdminMixin, admin.TabularInline):
    model = ContractSlaBinding
    fields = ["priority", "first_response_minutes", "resolution_minutes", "service_hours", "availability_target"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return _can_see_contracts(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Contract)
class ContractAdmin(ContractRecordAdmin):
    list_display = ["contract_code", "contract_name", "customer", "status", "end_date"]
    list_display_links = ["contract_code", "contract_name"]
    list_filter = ["status", "contract_type", "renewal_type"]
    list_select_related = ["customer"]
    search_fields = ["contract_code", "contract_name", "customer__customer_name"]
    search_help_text = _("Code, name or customer name.")
    inlines = [ContractSlaBindingInline]
    fields = [
        "contract_code",
        "contract_name",
        "customer",
        "contract_type",
        "status",
        "contract_amount",
        "currency",
        "start_date",
        "end_date",
        "signed_date",
        "renewal_type",
        "renewal_notice_days",
        "payment_terms",
        "service_level",
        "version",
        "predecessor",
        "template",
        "document",
        "terminated_reason",
        "terminated_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if not _can_see_amounts(request.user):
            fields.remove("contract_amount")
        return fields

    @admin.display(description=_("document"))
    def document(self, obj):
        if not obj.document_pdf and not obj.document_html:
            return gettext("Not generated")
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            document_url(obj, "pdf"),
            "PDF",
            document_url(obj, "html"),
            "HTML",
        )


@admin.register(ChangeRequest)
class ChangeRequestAdmin(ContractRecordAdmin):
    list_display = ["contract", "status", "requested_by", "created_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["contract", "requested_by", "decided_by"]
    search_fields = ["contract__contract_code", "contract__contract_name", "reason"]
    fields = [
        "contract",
        "status",
        "reason",
        "changes",
        "base_version",
        "requested_by",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_note",
    ]
    readonly_fields = fields

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if not _can_see_amounts(request.user):
            fields.remove("changes")  # the before/after values may include the amount
        return fields


@admin.register(Invoice)
class InvoiceAdmin(ContractRecordAdmin):
    needs_amounts = True
    list_display = ["invoice_number", "contract", "amount", "issue_date", "due_date", "paid_date", "status"]
    list_filter = ["status"]
    list_select_related = ["contract"]
    search_fields = ["invoice_number", "external_id", "contract__contract_code", "contract__customer__customer_name"]


@admin.register(Payment)
class PaymentAdmin(ContractRecordAdmin):
    needs_amounts = True
    list_display = ["invoice", "amount", "paid_date", "method", "external_id"]
    list_filter = ["method"]
    list_select_related = ["invoice"]
    search_fields = ["invoice__invoice_number", "external_id", "method"]
