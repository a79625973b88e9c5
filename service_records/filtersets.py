"""ServiceRecordFilterSet: the filters of a customer's ticket list (staff tab and API alike)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contracts.choices import TicketPriority
from crm_project.filters import DATE_WIDGET
from service_records.choices import TicketStatus


class ServiceRecordFilterSet(django_filters.FilterSet):
    """Filter names are public; keep them stable. Dates are local days (the whole day included)."""

    status = django_filters.MultipleChoiceFilter(label=_("Status"), choices=TicketStatus.choices)
    priority = django_filters.MultipleChoiceFilter(label=_("Priority"), choices=TicketPriority.choices)
    category = django_filters.CharFilter(label=_("Category"), field_name="category", max_length=50)
    opened_from = django_filters.DateFilter(label=_("Opened from"), method="filter_from", widget=DATE_WIDGET)
    opened_to = django_filters.DateFilter(label=_("Opened to"), method="filter_to", widget=DATE_WIDGET)
    breached = django_filters.BooleanFilter(label=_("SLA breached"), field_name="breached")

    class Meta:
        fields = []

    def filter_from(self, queryset, name, value):
        return queryset.filter(opened_at__gte=timezone.make_aware(datetime.combine(value, time.min)))

    def filter_to(self, queryset, name, value):
        return queryset.filter(
            opened_at__lt=timezone.make_aware(
                datetime.combine(min(value, date(9999, 12, 30)) + timedelta(days=1), time.min)
            )
        )
