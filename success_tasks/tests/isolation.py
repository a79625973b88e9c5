"""Objects and URL keywords of success_tasks for the route walks (see crm_project/testing.py)."""

from crm_project.testing import ROUTE_BODIES, register_route_kwargs, register_world_objects
from success_tasks import services
from success_tasks.choices import TaskType


def _task(world):
    return services.task_create(
        actor=world.owner,
        customer=world["customer"],
        data={"task_title": "Walk task", "task_type": TaskType.HEALTH, "assigned_to": world.owner},
    )


def _rule(world):
    return services.rules_ensure_defaults()[0]


register_world_objects({"success_task": _task, "playbook_rule": _rule})
register_route_kwargs(
    {
        "task_id": "success_task",
        "success_tasks:pk": "success_task",
        "success_tasks:rule_edit.pk": "playbook_rule",
        "success_tasks:customer_pk": "customer",
    }
)
ROUTE_BODIES.update(
    {
        "success_task_status.POST": {"status": 2},
        "success_task_comments.POST": {"body": "walk"},
        "customer_success_tasks.POST": {"task_title": "Walk", "task_type": 1},
    }
)
