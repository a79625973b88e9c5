from django import forms
from django.utils.translation import gettext_lazy as _

from privacy.models import RequestKind


class RequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=[(RequestKind.EXPORT, RequestKind.EXPORT.label),
                                                       (RequestKind.ERASURE, RequestKind.ERASURE.label)])  # fmt: skip
    contact_id = forms.IntegerField(label=_("Contact id"), min_value=1, max_value=2**63 - 1)
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    confirm = forms.BooleanField(label=_("I confirm: an erasure cannot be undone."), required=False)

    def clean(self):
        data = super().clean()
        if data.get("kind") == RequestKind.ERASURE and not data.get("confirm"):
            self.add_error("confirm", _("Confirm the erasure."))
        return data


class RetentionForm(forms.Form):
    data_class = forms.CharField(max_length=50, widget=forms.HiddenInput)
    retention_days = forms.IntegerField(label=_("Days kept"), min_value=1, max_value=36500)
