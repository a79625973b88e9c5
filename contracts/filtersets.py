"""ContractFilterSet: one set of filters for the staff contract list and the contracts API list."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from contracts.choices import ContractStatus, ContractType
from crm_project.filters import DATE_WIDGET, ChoiceListFilter, IdFilter


class ContractFilterSet(django_filters.FilterSet):
    """Filter names are public (staff list query string and API); keep them stable."""

    q = django_filters.CharFilter(label=_("Search"), method="filter_q")
    status = ChoiceListFilter(label=_("Status"), choices=ContractStatus.choices)
    customer = IdFilter(label=_("Customer"), field_name="customer_id")
    contract_type = ChoiceListFilter(label=_("Contract type"), choices=ContractType.choices)
    # end_date is a DateField: plain comparisons are exact (no time-zone day boundaries needed).
    end_from = django_filters.DateFilter(
        label=_("Ends from"), field_name="end_date", lookup_expr="gte", widget=DATE_WIDGET
    )
    end_to = django_filters.DateFilter(label=_("Ends to"), field_name="end_date", lookup_expr="lte", widget=DATE_WIDGET)

    class Meta:
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(contract_code__icontains=value)
            | Q(contract_name__icontains=value)
            | Q(customer__customer_name__icontains=value)
        )
