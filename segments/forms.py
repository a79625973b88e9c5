import json

from django import forms
from django.utils.translation import gettext_lazy as _


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=500, required=False)
    is_shared = forms.BooleanField(label=_("Share with the team"), required=False)
    rules = forms.CharField(
        label=_("Rules (JSON)"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 10, "class": "mono"}),
        help_text=_(
            'For example {"op": "and", "conditions": [{"field": "health_score", "operator": "lt", "value": 60}]}'
        ),
    )

    def clean_rules(self):
        try:
            return json.loads(self.cleaned_data["rules"])
        except ValueError:
            raise forms.ValidationError(_("Not valid JSON.")) from None
