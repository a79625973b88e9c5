"""CustomerFilterSet: one set of filters for the staff list, the API list and the search endpoint."""

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from crm_project.filters import DATE_WIDGET, ChoiceListFilter, DateFromFilter, DateToFilter, IdFilter
from customers.choices import CustomerLevel, CustomerStatus, CustomerType
from customers.models import CustomerContact, CustomerTag


class CustomerFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="filter_q")
    status = ChoiceListFilter(label=_("Status"), choices=CustomerStatus.choices)
    level = ChoiceListFilter(label=_("Level"), choices=CustomerLevel.choices)
    customer_type = ChoiceListFilter(label=_("Customer type"), choices=CustomerType.choices)
    industry = django_filters.CharFilter(label=_("Industry"), field_name="industry", lookup_expr="exact")
    assigned_manager_id = IdFilter(label=_("Manager"), field_name="assigned_manager_id")
    health_score_min = django_filters.NumberFilter(label=_("Health ≥"), field_name="health_score", lookup_expr="gte")
    health_score_max = django_filters.NumberFilter(label=_("Health ≤"), field_name="health_score", lookup_expr="lte")
    created_from = DateFromFilter(label=_("Created from"), field_name="created_at", widget=DATE_WIDGET)
    created_to = DateToFilter(label=_("Created to"), field_name="created_at", widget=DATE_WIDGET)
    tag = django_filters.CharFilter(label=_("Tag"), method="filter_tag")

    class Meta:
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        contact_match = CustomerContact.objects.filter(customer=OuterRef("pk"), contact_name__icontains=value)
        return queryset.filter(
            Q(customer_name__icontains=value) | Q(customer_code__icontains=value) | Exists(contact_match)
        )

    def filter_tag(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Exists(CustomerTag.objects.filter(customer=OuterRef("pk"), tag_name=value)))
