"""The compliance report (PRD 7.4): per period, the audit log counted by category of action (access to sensitive
data, exports, data-subject requests, administration), as a page and as a CSV / XLSX file (itself audited).

Categories match actions by prefix (crm_project.audit.COMPLIANCE_CATEGORIES), so no app is imported: the privacy
app's actions all start with `privacy.`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_project.filters import DATE_WIDGET

MAX_DAYS = 366
EXPORT_FORMATS = ("csv", "xlsx")


def default_period(today: date | None = None) -> tuple[date, date]:
    """The current month up to today."""
    today = today or timezone.localdate()
    return today.replace(day=1), today


class PeriodForm(forms.Form):
    date_from = forms.DateField(label=_("From"), widget=DATE_WIDGET)
    date_to = forms.DateField(label=_("To"), widget=DATE_WIDGET)

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", _("The end of the period must not be before its start."))
            elif (end - start).days >= MAX_DAYS:
                self.add_error("date_to", _("A report covers at most %(days)d days.") % {"days": MAX_DAYS})
        return data


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the current time zone."""
    zone = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), zone),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), zone),
    )


def export_rows(queryset):
    """One row per audit entry of the report, oldest first (CSV / XLSX)."""
    from accounts.registry import audit_labels
    from crm_project.audit import compliance_category

    for entry in queryset.order_by("created_at", "id").iterator(chunk_size=1000):
        category = compliance_category(entry.action)
        yield [
            timezone.localtime(entry.created_at).replace(tzinfo=None),
            str(category.label) if category else "",
            entry.action,
            str(audit_labels.label(entry.action)),
            entry.actor_name,
            entry.object_type,
            entry.object_id,
            entry.object_repr,
            entry.ip_address or "",
            entry.user_agent,
        ]


EXPORT_HEADER = [
    _("Time"),
    _("Category"),
    _("Action"),
    _("Description"),
    _("Actor"),
    _("Object type"),
    _("Object id"),
    _("Object"),
    _("IP address"),
    _("User agent"),
]
