"""The tenant's health settings form (weights and risk thresholds); the rules live in HealthSettings.clean()."""

from __future__ import annotations

from django import forms

from health.models import THRESHOLD_FIELDS, WEIGHT_FIELDS, HealthSettings


class HealthSettingsForm(forms.ModelForm):
    class Meta:
        model = HealthSettings
        fields = [*WEIGHT_FIELDS, *THRESHOLD_FIELDS]

    def proposed_weights(self) -> dict[str, int]:
        """The weights typed in (valid form only), keyed like HealthSettings.weights."""
        return {name.removeprefix("weight_"): int(self.cleaned_data[name]) for name in WEIGHT_FIELDS}
