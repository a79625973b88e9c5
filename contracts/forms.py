"""Forms of the contracts staff UI. They parse and check input; the rules live in contracts/services.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contracts import selectors
from contracts.choices import InvoiceStatus, MilestoneStatus, ServiceHours, TicketPriority
from contracts.models import Contract, Invoice, Milestone, Payment
from contracts.services import CHANGEABLE_FIELDS, CONTRACT_FIELDS
from customers.selectors import assignable_managers, customers_visible_to

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MONEY_INPUT = forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"})
MINUTES_INPUT = forms.NumberInput(attrs={"min": "1", "step": "1", "inputmode": "numeric"})
PRIORITIES = [value for value, _label in TicketPriority.choices]


class ContractTermsForm(forms.ModelForm):
    """The contract's own terms (edit of a draft; step 1 of the wizard).

    On edit, pass a *copy* of the contract as `instance`: a ModelForm writes cleaned values onto its instance
    while validating, and `services.contract_update` must still see the old values to diff and audit.
    """

    class Meta:
        model = Contract
        fields = CONTRACT_FIELDS
        widgets = {
            "start_date": DATE_INPUT,
            "end_date": DATE_INPUT,
            "contract_amount": MONEY_INPUT,
            "renewal_notice_days": forms.NumberInput(attrs={"min": "0", "step": "1", "inputmode": "numeric"}),
        }

    def __init__(self, *args, can_see_amount: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contract_name"].widget.attrs.update({"autocomplete": "off"})
        if not can_see_amount:
            # Editing without the amount permission keeps the stored amount and never shows it.
            del self.fields["contract_amount"]

    def service_data(self) -> dict[str, Any]:
        return {key: value for key, value in self.cleaned_data.items() if key in CONTRACT_FIELDS}


class ContractWizardForm(ContractTermsForm):
    """Step 1 of "new contract": the customer, an optional document template and SLA policy, and the terms."""

    customer = forms.ModelChoiceField(label=_("Customer"), queryset=None)
    template = forms.ModelChoiceField(
        label=_("Document template"),
        queryset=None,
        required=False,
        empty_label=_("— No document —"),
        help_text=_("The contract document is generated from this template when the contract is created."),
    )
    sla_policy = forms.ModelChoiceField(
        label=_("SLA policy"),
        queryset=None,
        required=False,
        empty_label=_("— Enter the targets by hand —"),
        help_text=_("Prefills the SLA table of the next step."),
    )

    field_order = ["customer", "template", "sla_policy", *CONTRACT_FIELDS]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers_visible_to(user).order_by("customer_name")
        self.fields["template"].queryset = selectors.active_templates()
        self.fields["sla_policy"].queryset = selectors.sla_policies()


def _policy_targets(policy) -> dict[str, dict[str, Any]]:
    """Per priority the minutes of an SlaPolicy (`targets` = {"P1": {"first_response_minutes": 15, ...}})."""
    targets = policy.targets if policy is not None and isinstance(policy.targets, dict) else {}
    result = {}
    for priority in PRIORITIES:
        entry = targets.get(priority) or {}
        if not isinstance(entry, dict):
            continue
        result[priority] = {
            "first_response_minutes": entry.get("first_response_minutes", entry.get("first_response")),
            "resolution_minutes": entry.get("resolution_minutes", entry.get("resolution")),
        }
    return result


class SlaTableForm(forms.Form):
    """The SLA table: per priority P1..P4 first response and resolution (minutes), plus service hours.

    A row left empty is skipped; a half-filled row is an error.
    """

    service_hours = forms.ChoiceField(label=_("Service hours"), choices=ServiceHours.choices)
    availability_target = forms.DecimalField(
        label=_("Availability target (%)"), max_digits=6, decimal_places=3, min_value=0, max_value=100
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for priority in PRIORITIES:
            self.fields[f"{priority}_first_response_minutes"] = forms.IntegerField(
                label=_("%(priority)s first response (minutes)") % {"priority": priority},
                required=False,
                min_value=1,
                widget=MINUTES_INPUT,
            )
            self.fields[f"{priority}_resolution_minutes"] = forms.IntegerField(
                label=_("%(priority)s resolution (minutes)") % {"priority": priority},
                required=False,
                min_value=1,
                widget=MINUTES_INPUT,
            )
        self.fields["availability_target"].widget.attrs.update({"step": "0.001", "inputmode": "decimal"})

    @classmethod
    def initial_for(cls, *, policy=None, bindings=()) -> dict[str, Any]:
        """Initial values from an SLA policy, or from a contract's current bindings."""
        initial: dict[str, Any] = {"service_hours": ServiceHours.ALWAYS, "availability_target": "99.900"}
        if policy is not None:
            initial["service_hours"] = policy.service_hours
            initial["availability_target"] = policy.availability_target
            for priority, values in _policy_targets(policy).items():
                for name, value in values.items():
                    initial[f"{priority}_{name}"] = value
        for binding in bindings:
            initial["service_hours"] = binding.service_hours
            initial["availability_target"] = binding.availability_target
            initial[f"{binding.priority}_first_response_minutes"] = binding.first_response_minutes
            initial[f"{binding.priority}_resolution_minutes"] = binding.resolution_minutes
        return initial

    def clean(self):
        cleaned = super().clean()
        for priority in PRIORITIES:
            first = cleaned.get(f"{priority}_first_response_minutes")
            resolution = cleaned.get(f"{priority}_resolution_minutes")
            if (first is None) != (resolution is None) and not self.has_error(f"{priority}_first_response_minutes"):
                missing = (
                    f"{priority}_resolution_minutes" if resolution is None else f"{priority}_first_response_minutes"
                )
                if not self.has_error(missing):
                    self.add_error(missing, _("Give both targets of this priority, or neither."))
        return cleaned

    def rows(self) -> list[dict[str, Any]]:
        """One row per priority for the template: label and the two bound fields."""
        labels = dict(TicketPriority.choices)
        return [
            {
                "priority": priority,
                "label": labels[priority],
                "first": self[f"{priority}_first_response_minutes"],
                "resolution": self[f"{priority}_resolution_minutes"],
            }
            for priority in PRIORITIES
        ]

    def bindings(self, policy=None) -> dict[str, dict[str, Any]]:
        """{priority: data for services.sla_binding_set} for every filled row."""
        result = {}
        for priority in PRIORITIES:
            first = self.cleaned_data.get(f"{priority}_first_response_minutes")
            resolution = self.cleaned_data.get(f"{priority}_resolution_minutes")
            if first is None or resolution is None:
                continue
            result[priority] = {
                "first_response_minutes": first,
                "resolution_minutes": resolution,
                "service_hours": self.cleaned_data["service_hours"],
                "availability_target": self.cleaned_data["availability_target"],
                "policy": policy,
            }
        return result


class TerminateForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the termination"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


class ChangeRequestForm(forms.ModelForm):
    """New values for an active contract's changeable terms, and the reason. Without the amount permission the
    amount is neither shown nor changeable."""

    reason = forms.CharField(label=_("Reason for the change"), widget=forms.Textarea(attrs={"rows": 3}))

    class Meta:
        model = Contract
        fields = CHANGEABLE_FIELDS
        widgets = {"end_date": DATE_INPUT, "contract_amount": MONEY_INPUT}

    def __init__(self, *args, can_see_amount: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_see_amount:
            del self.fields["contract_amount"]
        self.field_order = [*[name for name in CHANGEABLE_FIELDS if name in self.fields], "reason"]
        self.order_fields(self.field_order)

    def changes(self) -> dict[str, Any]:
        """Only the terms the user actually changed."""
        return {
            name: self.cleaned_data[name]
            for name in CHANGEABLE_FIELDS
            if name in self.fields and self.cleaned_data.get(name) != self.initial.get(name)
        }


class DecisionForm(forms.Form):
    APPROVE, REJECT = "approve", "reject"

    decision = forms.ChoiceField(choices=[(APPROVE, _("Approve")), (REJECT, _("Reject"))])
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class MilestoneForm(forms.ModelForm):
    milestone_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Milestone
        fields = ("title", "due_date", "status", "owner")
        widgets = {"due_date": DATE_INPUT}

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_managers(tenant)
        self.fields["owner"].empty_label = _("— Nobody —")
        self.fields["status"].initial = MilestoneStatus.PENDING

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in ("title", "due_date", "status", "owner")}


class InvoiceForm(forms.ModelForm):
    class Meta:
        model = Invoice
        fields = ("invoice_number", "amount", "issue_date", "due_date", "paid_date", "status", "external_id")
        widgets = {
            "issue_date": DATE_INPUT,
            "due_date": DATE_INPUT,
            "paid_date": DATE_INPUT,
            "amount": MONEY_INPUT,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].initial = InvoiceStatus.ISSUED

    def validate_unique(self):
        """Uniqueness (number, external id) is the service's business: an external id upserts."""

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class PaymentForm(forms.ModelForm):
    invoice_id = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Payment
        fields = ("amount", "paid_date", "method", "external_id")
        widgets = {"paid_date": DATE_INPUT, "amount": MONEY_INPUT}

    def validate_unique(self):
        """An external id seen before updates that payment (services.payment_upsert)."""

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in ("amount", "paid_date", "method", "external_id")}


class GenerateDocumentForm(forms.Form):
    template = forms.ModelChoiceField(label=_("Template"), queryset=None, empty_label=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = selectors.active_templates()
