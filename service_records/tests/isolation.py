"""Objects and URL keywords of the service_records app for the route walks (see crm_project/testing.py)."""

from datetime import date

from crm_project.testing import register_route_kwargs, register_world_objects
from service_records import services


def _record(world):
    return services.record_create(
        actor=world.owner, customer=world["customer"], data={"title": "Walk ticket", "priority": "P2"}
    )


def _report(world):
    return services.report_request(
        actor=world.owner, customer=world["customer"], period_start=date(2026, 1, 1), period_end=date(2026, 1, 31)
    )


register_world_objects({"service_record": _record, "service_report": _report})
register_route_kwargs(
    {
        "record_id": "service_record",
        "report_id": "service_report",
        "service_records:pk": "service_record",
        "service_records:customer_pk": "customer",
        "service_records:rid": "service_report",
        "service_records:kind": lambda world: "pdf",
    }
)
