"""Filter pieces shared by every app's FilterSets (staff lists and API alike)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

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


# Days a local midnight can be computed for in any time zone (the calendar's ends overflow once shifted to UTC).
_FIRST_DAY = date(1, 1, 2)
_LAST_DAY = date(9999, 12, 30)
MAX_ID = 2**63 - 1


def local_day_range(day, *, end: bool) -> datetime:
    """Start (or end, exclusive) of a local calendar day as an aware datetime.

    Comparing datetimes instead of using `__date` keeps the index usable and avoids MySQL's time-zone tables.
    Days at the calendar's ends (0001-01-01, 9999-12-31) are clamped: they mean "no bound", not an overflow.
    """
    day = min(max(day, _FIRST_DAY), _LAST_DAY)
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


class IdField(forms.Field):
    """A row id: a whole number from 1 to 2^63-1 (no `1e3`, no 23 digits: those are a clear 400, not a 500)."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
            raise forms.ValidationError(_("'%(value)s' is not a valid id."), params={"value": text[:40]})
        return int(text)


class IdFilter(django_filters.Filter):
    """Filter by the id of a related row (`customer=12`)."""

    field_class = IdField
