"""Staff forms: manual ticket entry, staff-side edits, ratings, NPS answers, CSV import, report period."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from contracts.choices import TicketPriority
from service_records.choices import Channel, TicketStatus

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
RATING_CHOICES = [("", "—")] + [(str(i), str(i)) for i in range(1, 6)]


def _dt(label, required=False):
    return forms.DateTimeField(label=label, required=required, widget=DATETIME_WIDGET, input_formats=DATETIME_FORMATS)


class RecordForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    priority = forms.ChoiceField(label=_("Priority"), choices=TicketPriority.choices)
    category = forms.CharField(label=_("Category"), max_length=50, required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", "—"), *Channel.choices], required=False)
    status = forms.ChoiceField(label=_("Status"), choices=TicketStatus.choices, initial=TicketStatus.OPEN)
    opened_at = _dt(_("Opened at"), required=True)
    first_response_at = _dt(_("First response at"))
    resolved_at = _dt(_("Resolved at"))
    assignee = forms.CharField(label=_("Assignee"), max_length=100, required=False)
    description = forms.CharField(
        label=_("Description"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    solution = forms.CharField(
        label=_("Solution"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class RecordEditForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=TicketStatus.choices)
    category = forms.CharField(label=_("Category"), max_length=50, required=False)
    first_response_at = _dt(_("First response at"))
    resolved_at = _dt(_("Resolved at"))
    closed_at = _dt(_("Closed at"))
    assignee = forms.CharField(label=_("Assignee"), max_length=100, required=False)
    handling_minutes = forms.IntegerField(
        label=_("Handling minutes"), min_value=0, max_value=10_000_000, required=False
    )
    solution = forms.CharField(
        label=_("Solution"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class RatingForm(forms.Form):
    satisfaction_overall = forms.TypedChoiceField(
        label=_("Overall"), choices=RATING_CHOICES, coerce=int, empty_value=None, required=False
    )
    satisfaction_response_speed = forms.TypedChoiceField(
        label=_("Response speed"), choices=RATING_CHOICES, coerce=int, empty_value=None, required=False
    )
    satisfaction_professionalism = forms.TypedChoiceField(
        label=_("Professionalism"), choices=RATING_CHOICES, coerce=int, empty_value=None, required=False
    )
    satisfaction_resolution_quality = forms.TypedChoiceField(
        label=_("Resolution quality"), choices=RATING_CHOICES, coerce=int, empty_value=None, required=False
    )
    satisfaction_comment = forms.CharField(
        label=_("Comment"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class NpsForm(forms.Form):
    contact = forms.ModelChoiceField(label=_("Contact"), queryset=None, required=False)
    score = forms.IntegerField(label=_("Score (0-10)"), min_value=0, max_value=10)
    reason = forms.CharField(label=_("Reason"), max_length=2000, required=False)

    def __init__(self, *args, customer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = customer.contacts.all() if customer is not None else []


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return upload


class ReportForm(forms.Form):
    period_start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("period_start") and data.get("period_end") and data["period_end"] < data["period_start"]:
            self.add_error("period_end", _("The end cannot be before the start."))
        return data
