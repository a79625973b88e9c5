"""Objects and URL keywords of the webhooks app for the route walks (see crm_project/testing.py)."""

from crm_project.testing import register_route_kwargs, register_world_objects
from webhooks.tests.factories import make_delivery, make_subscription

register_world_objects(
    {
        "webhook_subscription": lambda world: make_subscription(world.owner),
        "webhook_delivery": lambda world: make_delivery(world.owner, world["webhook_subscription"]),
    }
)
register_route_kwargs(
    {
        "subscription_id": "webhook_subscription",
        "delivery_id": "webhook_delivery",
        "webhooks:pk": "webhook_delivery",
    }
)
