"""CommunicationFilterSet: one set of filters for the customer's Communications tab and the API list."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from communications.choices import CommunicationType, Direction, Importance, Sentiment
from crm_project.filters import DATE_WIDGET, ChoiceListFilter, DateFromFilter, DateToFilter


class CommunicationFilterSet(django_filters.FilterSet):
    """Filter names are public (tab query string and API); keep them stable."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_q", max_length=200)
    communication_type = ChoiceListFilter(label=_("Type"), choices=CommunicationType.choices)
    direction = ChoiceListFilter(label=_("Direction"), choices=Direction.choices)
    sentiment = ChoiceListFilter(label=_("Sentiment"), choices=Sentiment.choices)
    importance = ChoiceListFilter(label=_("Importance"), choices=Importance.choices)
    date_from = DateFromFilter(label=_("From"), field_name="communication_date", widget=DATE_WIDGET)
    date_to = DateToFilter(label=_("To"), field_name="communication_date", widget=DATE_WIDGET)

    class Meta:
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(subject__icontains=value) | Q(content__icontains=value))
