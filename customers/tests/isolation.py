"""Objects and URL keywords of the customers app for the route walks (see crm_project/testing.py)."""

from crm_project.testing import register_route_kwargs, register_world_objects
from customers.tests.factories import make_contact, make_customer, make_tag


def _other_customer(world):
    return make_customer(world.owner, customer_name="Walk Duplicate Ltd")


register_world_objects(
    {
        "customer": lambda world: make_customer(world.owner, customer_name="Walk Customer Ltd"),
        "other_customer": _other_customer,
        "contact": lambda world: make_contact(world.owner, world["customer"], contact_name="Walk Contact"),
        "tag": lambda world: make_tag(world.owner, world["customer"], "walk-tag"),
    }
)
register_route_kwargs(
    {
        "customer_id": "customer",
        "contact_id": "contact",
        "tag_id": "tag",
        "customers:pk": "customer",
        "customers:tag_pk": "tag",
        "customers:other_pk": "other_customer",
        # An import token names a file of the importer's session, not a row: an unknown one is walked.
        "customers:token": lambda world: "walk-unknown-token",
    }
)
