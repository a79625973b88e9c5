from django import forms
from django.utils.translation import gettext_lazy as _

from privacy.models import RequestKind


class RequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=RequestKind.choices)
    contact_id = forms.IntegerField(label=_("Contact id"), min_value=1, max_value=2**63 - 1)
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    # Correction: the fields given are set on the contact (validated like any contact edit); blanks are left alone.
    contact_name = forms.CharField(label=_("Correct name to"), max_length=100, required=False)
    mobile = forms.CharField(label=_("Correct mobile to"), max_length=20, required=False)
    phone = forms.CharField(label=_("Correct phone to"), max_length=20, required=False)
    email = forms.CharField(label=_("Correct e-mail to"), max_length=100, required=False)
    wechat = forms.CharField(label=_("Correct WeChat to"), max_length=100, required=False)
    confirm = forms.BooleanField(label=_("I confirm: an erasure cannot be undone."), required=False)

    def clean(self):
        data = super().clean()
        if data.get("kind") == RequestKind.ERASURE and not data.get("confirm"):
            self.add_error("confirm", _("Confirm the erasure."))
        if data.get("kind") == RequestKind.CORRECTION and not self.corrections():
            self.add_error("mobile", _("Name at least one field to correct."))
        return data

    def corrections(self) -> dict:
        return {name: (self.cleaned_data.get(name) or "").strip() for name in CORRECTION_FIELDS
                if (self.cleaned_data.get(name) or "").strip()}  # fmt: skip


CORRECTION_FIELDS = ("contact_name", "mobile", "phone", "email", "wechat")


class RetentionForm(forms.Form):
    data_class = forms.CharField(max_length=50, widget=forms.HiddenInput)
    retention_days = forms.IntegerField(label=_("Days kept"), min_value=1, max_value=36500)
