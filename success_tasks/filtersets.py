"""TaskFilterSet: the API list's filters (PRD 4.1.3 `assigned_to`, `status`) plus customer, type, priority."""

import django_filters
from django.utils.translation import gettext_lazy as _

from crm_project.filters import ChoiceListFilter, IdFilter
from success_tasks.choices import TaskPriority, TaskStatus, TaskType


class TaskFilterSet(django_filters.FilterSet):
    assigned_to = IdFilter(label=_("Assigned to"), field_name="assigned_to_id")
    status = ChoiceListFilter(label=_("Status"), choices=TaskStatus.choices)
    customer = IdFilter(label=_("Customer"), field_name="customer_id")
    task_type = ChoiceListFilter(label=_("Type"), choices=TaskType.choices)
    priority = ChoiceListFilter(label=_("Priority"), choices=TaskPriority.choices)
    auto_generated = django_filters.BooleanFilter(label=_("Auto-generated"))

    class Meta:
        fields = []
