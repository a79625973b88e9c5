"""Forms of the customers staff UI. They parse and check input; the rules live in customers/services.py."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from customers import services
from customers.models import Customer, CustomerContact
from customers.selectors import assignable_managers

CUSTOMER_FORM_FIELDS = (
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
)
CONTACT_FORM_FIELDS = (
    "contact_name",
    "position",
    "department",
    "phone",
    "mobile",
    "email",
    "wechat",
    "is_primary",
    "is_decision_maker",
    "influence_level",
    "contact_preference",
)


class CustomerForm(forms.ModelForm):
    """The customer's own fields. Without `customers.assign_customer` the manager field is left out entirely.

    On edit, pass a *copy* of the customer as `instance`: a ModelForm writes the cleaned values onto its
    instance while validating, and `services.customer_update` must still see the old values to diff and audit.
    """

    class Meta:
        model = Customer
        fields = CUSTOMER_FORM_FIELDS
        widgets = {
            "address": forms.Textarea(attrs={"rows": 2}),
            "description": forms.Textarea(attrs={"rows": 4}),
            "website": forms.TextInput(attrs={"inputmode": "url", "placeholder": "https://", "autocomplete": "url"}),
        }

    def __init__(self, *args, user, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.can_assign = user.has_perm("customers.assign_customer")
        if self.can_assign:
            manager = self.fields["assigned_manager"]
            manager.queryset = assignable_managers(tenant)
            manager.empty_label = _("— Unassigned —")
        else:
            del self.fields["assigned_manager"]
        self.fields["customer_name"].widget.attrs.update({"autocomplete": "organization", "autofocus": True})
        # Shown, never written: the status follows the contracts (PRD 5.2.1).
        self.fields["status"].disabled = True
        self.fields["status"].help_text = _("Follows the contracts: formal when one is signed, lost when they lapse.")

    def clean(self):
        cleaned = super().clean()
        posted = self.data.get(self.add_prefix("status")) if self.is_bound else None
        if posted not in (None, "") and str(posted) != str(self.instance.status):
            self.add_error("status", services.status_read_only_message())
        return cleaned

    def service_data(self) -> dict:
        """What to hand to customer_create / customer_update (never the status)."""
        return {
            key: value for key, value in self.cleaned_data.items() if key in CUSTOMER_FORM_FIELDS and key != "status"
        }


class ContactForm(forms.ModelForm):
    """One contact row of the inline formset; `contact_id` ties a row to an existing contact on edit."""

    contact_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = CustomerContact
        fields = CONTACT_FORM_FIELDS
        widgets = {
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "mobile": forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
            "email": forms.TextInput(attrs={"type": "email", "inputmode": "email", "autocomplete": "off"}),
        }

    # Ticking only these on an empty new row does not make it a contact to save.
    FLAG_FIELDS = frozenset({"is_primary", "is_decision_maker", "influence_level", "DELETE"})

    def has_changed(self) -> bool:
        if self.initial.get("contact_id"):
            return super().has_changed()
        return any(name not in self.FLAG_FIELDS for name in self.changed_data)

    def service_data(self) -> dict:
        return {key: value for key, value in self.cleaned_data.items() if key in CONTACT_FORM_FIELDS}


class BaseContactFormSet(forms.BaseFormSet):
    """Contacts entered together with their customer. On create the first (empty) row starts as the primary."""

    first_row_primary = False

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if self.first_row_primary and index == 0 and self.initial_form_count() == 0:
            kwargs["initial"] = {"is_primary": True}
        return kwargs

    def kept_forms(self) -> list[tuple[int, ContactForm]]:
        """(index, form) of rows to save: filled in (or existing) and not marked for deletion."""
        kept = []
        for index, form in enumerate(self.forms):
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            if index >= self.initial_form_count() and not form.has_changed():
                continue
            kept.append((index, form))
        return kept

    def deleted_forms_with_ids(self) -> list[ContactForm]:
        if not self.can_delete:
            return []
        return [f for f in self.forms if self._should_delete_form(f) and f.cleaned_data.get("contact_id")]

    def clean(self):
        # Checked even when some row has errors, so the user sees every problem at once.
        try:
            services.check_one_primary([form.cleaned_data for _index, form in self.kept_forms()])
        except ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["contacts"], code="two_primaries") from None


def contact_formset_class(*, extra: int, can_delete: bool, first_row_primary: bool = False):
    formset = forms.formset_factory(
        ContactForm, formset=BaseContactFormSet, extra=extra, can_delete=can_delete, max_num=50, validate_max=True
    )
    formset.first_row_primary = first_row_primary
    return formset


class TagForm(forms.Form):
    tag_name = forms.CharField(
        label=_("Tag"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Add a tag…"), "autocomplete": "off"}),
    )


class ShareForm(forms.Form):
    """Share with one user of the tenant (action "share") or take the share back ("unshare")."""

    action = forms.ChoiceField(choices=[("share", "share"), ("unshare", "unshare")], widget=forms.HiddenInput)
    user = forms.ModelChoiceField(label=_("Share with"), queryset=None, empty_label=_("Choose a colleague…"))

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = assignable_managers(tenant)


class IdListField(forms.Field):
    """Selected row ids (`ids=1&ids=2` or `ids=1,2`) as a list of whole numbers."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        raw = value if isinstance(value, (list, tuple)) else [value] if value else []
        ids = []
        for item in raw:
            for part in str(item).split(","):
                part = part.strip()
                if not part:
                    continue
                if not part.isdigit():
                    raise forms.ValidationError(_("Invalid selection."), code="invalid")
                ids.append(int(part))
        return ids


class BulkActionForm(forms.Form):
    ASSIGN, TAG, EXPORT = "assign", "tag", "export"

    ids = IdListField(required=False)
    action = forms.ChoiceField(
        choices=[(ASSIGN, _("Assign manager")), (TAG, _("Add tag")), (EXPORT, _("Export selection"))]
    )
    manager = forms.ModelChoiceField(label=_("Manager"), queryset=None, required=False)
    tag_name = forms.CharField(label=_("Tag"), max_length=100, required=False)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = assignable_managers(tenant)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("ids"):
            raise forms.ValidationError(_("Select at least one customer."), code="empty")
        action = cleaned.get("action")
        if action == self.ASSIGN and not cleaned.get("manager"):
            self.add_error("manager", _("Choose the manager to assign."))
        if action == self.TAG and not (cleaned.get("tag_name") or "").strip():
            self.add_error("tag_name", _("Enter the tag to add."))
        return cleaned


class MergeForm(forms.Form):
    """Which record survives, and for each differing field which record's value is kept.

    Choice values are customer primary keys, so the view can tell which picks came from the duplicate.
    """

    def __init__(self, *args, first: Customer, second: Customer, fields: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        records = [(str(first.pk), first.customer_code), (str(second.pk), second.customer_code)]
        self.fields["survivor"] = forms.ChoiceField(
            label=_("Record that remains"), choices=records, widget=forms.RadioSelect
        )
        for name in fields:
            self.fields[f"pick_{name}"] = forms.ChoiceField(choices=records)
