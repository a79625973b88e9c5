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


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=500, required=False)
    segment = forms.ModelChoiceField(label=_("Segment"), queryset=None, required=False)
    goal = forms.ChoiceField(label=_("Goal"))
    cost = forms.DecimalField(label=_("Cost"), max_digits=15, decimal_places=2, min_value=0, initial=0)
    control_percent = forms.IntegerField(label=_("Control group (%)"), min_value=0, max_value=50, initial=0)
    attribution_days = forms.IntegerField(label=_("Attribution window (days)"), min_value=1, max_value=365, initial=90)
    send_email = forms.BooleanField(label=_("Send an e-mail"), required=False)
    email_subject = forms.CharField(label=_("E-mail subject"), max_length=200, required=False)
    email_body = forms.CharField(
        label=_("E-mail body"),
        max_length=10000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Placeholders: {customer_name} {customer_code} {contact_name} {manager} {renewal_date} {campaign}"),
    )
    create_tasks = forms.BooleanField(label=_("Create a task for each CSM"), required=False)
    task_title = forms.CharField(label=_("Task title"), max_length=200, required=False)

    def __init__(self, *args, segments=None, **kwargs):
        from segments.models import CampaignGoal

        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = segments
        self.fields["goal"].choices = CampaignGoal.choices
