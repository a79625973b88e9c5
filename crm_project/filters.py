"""Filter pieces shared by every app's FilterSets (staff lists and API alike)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ChoiceListField(forms.Field):
    """`2` or `1,2`: whole numbers that must all be among `choices`; anything else is a clear error."""

    def __init__(self, *, choices=(), **kwargs):
        self.allowed = {int(value) for value, _label in choices}
        kwargs.setdefault("widget", forms.Select(choices=[("", "---------"), *choices]))
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in (None, ""):
            return []
        values = value if isinstance(value, (list, tuple)) else str(value).split(",")
        result = []
        for raw in values:
            try:
                number = int(str(raw).strip())
            except ValueError:
                raise forms.ValidationError(_("'%(value)s' is not a whole number."), params={"value": raw}) from None
            if number not in self.allowed:
                raise forms.ValidationError(
                    _("%(value)s is not one of %(allowed)s."),
                    params={"value": number, "allowed": ", ".join(str(v) for v in sorted(self.allowed))},
                )
            result.append(number)
        return result


class ChoiceListFilter(django_filters.Filter):
    """Filter by one or several allowed integer values (`status=2` or `status=1,2`)."""

    field_class = ChoiceListField

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": value})


def local_day_range(day, *, end: bool) -> datetime:
    """Start (or end, exclusive) of a local calendar day as an aware datetime.

    Comparing datetimes instead of using `__date` keeps the index usable and avoids MySQL's time-zone tables.
    """
    moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    return timezone.make_aware(moment)


class DateFromFilter(django_filters.DateFilter):
    """`field >= start of that local day`."""

    def filter(self, qs, value):
        return qs.filter(**{f"{self.field_name}__gte": local_day_range(value, end=False)}) if value else qs


class DateToFilter(django_filters.DateFilter):
    """`field < start of the next local day` (the whole day included)."""

    def filter(self, qs, value):
        return qs.filter(**{f"{self.field_name}__lt": local_day_range(value, end=True)}) if value else qs


DATE_WIDGET = forms.DateInput(attrs={"type": "date"})
