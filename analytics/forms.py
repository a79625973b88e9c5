"""Filter forms of the analytics pages (GET parameters)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from analytics.kpis import DEFAULT_PERIOD, PERIODS
from analytics.models import Team
from customers.selectors import assignable_managers
from segments.selectors import segments_visible_to

PERIOD_LABELS = {"3m": _("Last 3 months"), "6m": _("Last 6 months"), "12m": _("Last 12 months")}


class KpiFilterForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Period"), choices=[(k, PERIOD_LABELS[k]) for k in PERIODS], required=False, initial=DEFAULT_PERIOD
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)
    csm = forms.ModelChoiceField(label=_("CSM"), queryset=User.objects.none(), required=False)
    segment = forms.ModelChoiceField(label=_("Segment"), queryset=None, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.order_by("name")
        self.fields["csm"].queryset = assignable_managers(user.tenant)
        self.fields["segment"].queryset = segments_visible_to(user).order_by("name")

    def filters(self) -> dict:
        if not self.is_valid():
            return {"period": DEFAULT_PERIOD}
        data = self.cleaned_data
        return {
            "period": data.get("period") or DEFAULT_PERIOD,
            "team": data["team"].pk if data.get("team") else None,
            "csm": data["csm"].pk if data.get("csm") else None,
            "segment": data["segment"].pk if data.get("segment") else None,
        }


class QualityFilterForm(forms.Form):
    manager = forms.ModelChoiceField(label=_("Customer manager"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = assignable_managers(user.tenant)
