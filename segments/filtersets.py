import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models import Customer


class MemberFilterSet(django_filters.FilterSet):
    """The segment page's members table: a name / code search."""

    q = django_filters.CharFilter(label=_("Search"), method="search", max_length=100)

    class Meta:
        model = Customer
        fields: list = []

    def search(self, queryset, name, value):
        value = value.strip()
        return (
            queryset.filter(Q(customer_name__icontains=value) | Q(customer_code__icontains=value))
            if value
            else queryset
        )
