"""Success-task API shapes (PRD 3.2.7 field names, PRD 4.1.3 bodies)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm_project.api.mixins import RefuseReadOnlyMixin
from success_tasks.choices import TaskStatus, TaskType
from success_tasks.services import assignable_users

BIG = 2**62


class AssigneeField(serializers.IntegerField):
    """A user id: an active CSM, lead or administrator of the caller's tenant."""

    def to_internal_value(self, data):
        pk = super().to_internal_value(data)
        if not 0 < pk < BIG:
            raise serializers.ValidationError(_("No active CSM, lead or administrator with this id in your tenant."))
        user = assignable_users(self.context["request"].user.tenant).filter(pk=pk).first()
        if user is None:
            raise serializers.ValidationError(_("No active CSM, lead or administrator with this id in your tenant."))
        return user


class TaskSerializer(serializers.Serializer):
    task_id = serializers.IntegerField(source="pk")
    customer_id = serializers.IntegerField()
    customer_name = serializers.CharField(source="customer.customer_name")
    task_title = serializers.CharField()
    task_description = serializers.CharField()
    task_type = serializers.IntegerField()
    priority = serializers.IntegerField()
    status = serializers.IntegerField()
    assigned_to = serializers.IntegerField(source="assigned_to_id")
    assigned_to_name = serializers.SerializerMethodField()
    due_date = serializers.DateTimeField(allow_null=True)
    completion_date = serializers.DateTimeField(allow_null=True)
    result = serializers.CharField()
    effectiveness_score = serializers.DecimalField(max_digits=3, decimal_places=2, allow_null=True)
    health_change = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    auto_generated = serializers.SerializerMethodField()
    trigger_condition = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_assigned_to_name(self, task) -> str:
        return task.assigned_to.get_display_name()

    def get_auto_generated(self, task) -> int:
        """0 or 1, as the PRD's TINYINT."""
        return int(task.auto_generated)


class TaskCreateSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    refused_fields = ("status", "auto_generated", "trigger_condition", "completion_date", "customer_id", "task_id")

    task_title = serializers.CharField(max_length=200)
    task_description = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    priority = serializers.IntegerField(
        min_value=1, max_value=4, required=False, help_text="1 low, 2 medium, 3 high, 4 urgent"
    )
    assigned_to = AssigneeField(required=False)
    due_date = serializers.DateTimeField(required=False, allow_null=True)


class TaskUpdateSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    refused_fields = (
        "status",
        "assigned_to",
        "auto_generated",
        "trigger_condition",
        "completion_date",
        "customer_id",
        "task_id",
    )
    refused_messages = {
        "status": lambda: str(_("Change the status with POST …/status.")),
        "assigned_to": lambda: str(_("Reassign with POST …/reassign.")),
    }

    task_title = serializers.CharField(max_length=200)
    task_description = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    priority = serializers.IntegerField(min_value=1, max_value=4, help_text="1 low, 2 medium, 3 high, 4 urgent")
    due_date = serializers.DateTimeField(required=False, allow_null=True)
    effectiveness_score = serializers.DecimalField(
        max_digits=3, decimal_places=2, min_value=0, max_value=1, required=False, allow_null=True
    )


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TaskStatus.choices)
    result = serializers.CharField(max_length=10000, required=False, allow_blank=True)


class ReassignSerializer(serializers.Serializer):
    assigned_to = AssigneeField()


class CommentSerializer(serializers.Serializer):
    comment_id = serializers.IntegerField(source="pk", read_only=True)
    body = serializers.CharField(max_length=5000)
    author = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)

    def get_author(self, comment) -> str:
        return comment.author.get_display_name() if comment.author else ""


class TaskListQuerySerializer(serializers.Serializer):
    assigned_to = serializers.IntegerField(required=False, min_value=1, max_value=BIG)
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
