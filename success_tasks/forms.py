"""Staff forms: tasks, status, reassignment, comments, playbook rules, CSM profiles. Rules live in services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from success_tasks import services
from success_tasks.choices import TaskPriority, TaskStatus, TaskType
from success_tasks.models import CsmProfile, PlaybookRule
from success_tasks.templating import FACTS

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class TaskForm(forms.Form):
    task_title = forms.CharField(label=_("Title"), max_length=200)
    task_description = forms.CharField(
        label=_("Description"), required=False, max_length=10000, widget=forms.Textarea(attrs={"rows": 3})
    )
    task_type = forms.TypedChoiceField(label=_("Type"), choices=TaskType.choices, coerce=int)
    priority = forms.TypedChoiceField(
        label=_("Priority"), choices=TaskPriority.choices, coerce=int, initial=TaskPriority.MEDIUM
    )
    assigned_to = forms.ModelChoiceField(label=_("Assign to"), queryset=None, required=False)
    due_date = forms.DateTimeField(
        label=_("Due"),
        required=False,
        widget=DATETIME_WIDGET,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
    )

    def __init__(self, *args, tenant=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = services.assignable_users(tenant)
        self.fields["assigned_to"].empty_label = _("The customer's manager")


class StatusForm(forms.Form):
    status = forms.TypedChoiceField(label=_("Status"), choices=TaskStatus.choices, coerce=int)
    result = forms.CharField(
        label=_("Result"), required=False, max_length=10000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReassignForm(forms.Form):
    assigned_to = forms.ModelChoiceField(label=_("Assign to"), queryset=None)

    def __init__(self, *args, tenant=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = services.assignable_users(tenant)


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Comment"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class RuleForm(forms.ModelForm):
    class Meta:
        model = PlaybookRule
        fields = [
            "name",
            "enabled",
            "trigger",
            "threshold",
            "window_days",
            "task_type",
            "priority",
            "title_template",
            "description_template",
            "due_in_days",
            "assignee_strategy",
        ]
        widgets = {"description_template": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        placeholders = ", ".join("{" + name + "}" for name in FACTS)
        self.fields["title_template"].help_text = _("Placeholders: %(names)s") % {"names": placeholders}


class CsmProfileForm(forms.ModelForm):
    class Meta:
        model = CsmProfile
        fields = ["team", "absent_until"]
        widgets = {"absent_until": forms.DateInput(attrs={"type": "date"})}
