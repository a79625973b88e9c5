"""Filters of the audit log and job-run pages."""

import django_filters
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditLog, JobRun
from crm_project.filters import DATE_WIDGET, DateFromFilter, DateToFilter


class AuditLogFilterSet(django_filters.FilterSet):
    action = django_filters.CharFilter(label=_("Action"), lookup_expr="startswith")
    actor = django_filters.CharFilter(label=_("Actor"), field_name="actor_name", lookup_expr="icontains")
    object_type = django_filters.CharFilter(label=_("Object type"), lookup_expr="iexact")
    object_id = django_filters.CharFilter(label=_("Object id"))
    date_from = DateFromFilter(label=_("From"), field_name="created_at", widget=DATE_WIDGET)
    date_to = DateToFilter(label=_("To"), field_name="created_at", widget=DATE_WIDGET)

    class Meta:
        model = AuditLog
        fields = ["action", "actor", "object_type", "object_id", "date_from", "date_to"]


class JobRunFilterSet(django_filters.FilterSet):
    job_name = django_filters.CharFilter(label=_("Job"), lookup_expr="icontains")
    status = django_filters.ChoiceFilter(label=_("Status"), choices=JobRun.Status.choices)

    class Meta:
        model = JobRun
        fields = ["job_name", "status"]
