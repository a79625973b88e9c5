"""Objects and URL keywords of the communications app for the route walks (see crm_project/testing.py)."""

from datetime import timedelta

from django.utils import timezone

from communications import services
from crm_project.testing import register_route_kwargs, register_world_objects


def _communication(world):
    return services.communication_create(
        actor=world.owner,
        customer=world["customer"],
        data={
            "communication_type": 1,
            "direction": 2,
            "subject": "Walk call",
            "content": "Routine call.",
            "communication_date": timezone.now(),
            "next_action": "Send the walk summary",
            "next_action_due": timezone.localdate() + timedelta(days=3),
        },
        analyze="sync",
    )


register_world_objects(
    {
        "communication": _communication,
        "follow_up": lambda world: world["communication"].follow_ups.get(),
    }
)
register_route_kwargs(
    {
        "communication_id": "communication",
        "communications:pk": "communication",
        "communications:communication_log.pk": "customer",
        "communications:customer_list.pk": "customer",
        "communications:customer_timeline.pk": "customer",
        "communications:follow_up_done.pk": "follow_up",
    }
)
