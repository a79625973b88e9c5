"""Forms of the staff UI: the quick-log / edit form and the sentiment override."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from communications.choices import CommunicationType, Direction, Importance, Sentiment
from communications.nlp import MAX_TEXT
from customers.models import CustomerContact

FIELD_MAP = {"contact_id": "contact"}


class CommunicationForm(forms.Form):
    """Quick-log (on the customer page) and edit form; the service holds the rules."""

    communication_type = forms.TypedChoiceField(
        label=_("Type"), choices=CommunicationType.choices, coerce=int, initial=CommunicationType.PHONE
    )
    direction = forms.TypedChoiceField(
        label=_("Direction"), choices=Direction.choices, coerce=int, initial=Direction.OUTBOUND
    )
    contact = forms.ModelChoiceField(label=_("Contact"), queryset=CustomerContact.objects.none(), required=False)
    communication_date = forms.DateTimeField(
        label=_("Date"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    content = forms.CharField(
        label=_("Notes"), max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=0, max_value=24 * 60, required=False)
    outcome = forms.CharField(label=_("Outcome"), max_length=100, required=False)
    next_action = forms.CharField(label=_("Next action"), max_length=200, required=False)
    next_action_due = forms.DateField(label=_("Due"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    importance = forms.TypedChoiceField(
        label=_("Importance"), choices=Importance.choices, coerce=int, initial=Importance.MEDIUM
    )

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = CustomerContact.objects.filter(customer=customer)
        if not self.is_bound and "communication_date" not in self.initial:
            self.initial["communication_date"] = timezone.localtime().replace(second=0, microsecond=0)

    def add_service_errors(self, exc) -> None:
        for field, messages in exc.message_dict.items():
            name = FIELD_MAP.get(field, field)
            self.add_error(name if name in self.fields else None, messages)


class SentimentForm(forms.Form):
    sentiment = forms.TypedChoiceField(
        label=_("Sentiment"),
        choices=[("", _("As analysed")), *Sentiment.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
