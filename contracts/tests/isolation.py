"""Objects and URL keywords of the contracts app for the route walks (see crm_project/testing.py)."""

from datetime import date
from decimal import Decimal

from contracts import services
from contracts.models import Clause, ContractTemplate
from crm_project.testing import ROUTE_BODIES, register_route_kwargs, register_world_objects


def _contract(world):
    contract = services.contract_create(
        actor=world.owner,
        customer=world["customer"],
        data={
            "contract_name": "Walk contract",
            "contract_amount": Decimal("500000"),
            "start_date": date(2026, 1, 1),
            "end_date": date(2026, 12, 31),
        },
    )
    return services.contract_sign(actor=world.owner, contract=contract)


def _invoice(world):
    return services.invoice_upsert(
        actor=world.owner,
        contract=world["contract"],
        data={
            "invoice_number": "WALK-1",
            "amount": Decimal("1000"),
            "issue_date": date(2026, 1, 5),
            "due_date": date(2026, 2, 5),
        },
    )


def _change_request(world):
    return services.change_request_create(
        actor=world.owner, contract=world["contract"], changes={"contract_name": "Walk renamed"}, reason="walk"
    )


register_world_objects(
    {
        "contract": _contract,
        "milestone": lambda world: services.milestone_save(
            actor=world.owner, contract=world["contract"], data={"title": "Walk", "due_date": date(2026, 3, 1)}
        ),
        "invoice": _invoice,
        "payment": lambda world: services.payment_upsert(
            actor=world.owner, invoice=world["invoice"], data={"amount": Decimal("10"), "paid_date": date(2026, 2, 1)}
        ),
        "change_request": _change_request,
        "template": lambda world: ContractTemplate.objects.create(name="Walk template", body="<p>{{ contract }}</p>"),
        "clause": lambda world: Clause.objects.create(title="Walk clause", body="<p>walk</p>"),
    }
)
register_route_kwargs(
    {
        "contract_id": "contract",
        "milestone_id": "milestone",
        "invoice_id": "invoice",
        "change_id": "change_request",
        "priority": lambda world: (world["contract"], "P1")[1],
        "contracts:pk": "contract",
        "contracts:change_request_decide.pk": "change_request",
        "contracts:milestone_pk": "milestone",
        "contracts:version": lambda world: world["contract"].version,
    }
)
# These views check the body before they look up the contract: a valid body reaches the lookup.
ROUTE_BODIES.update(
    {
        "sla_binding_detail.PUT": {"first_response_minutes": 5, "resolution_minutes": 60},
        "contract_terminate.POST": {"reason": "walk"},
        "milestone_list.POST": {"title": "Walk", "due_date": "2026-03-01"},
        "customer_contracts.POST": {
            "contract_name": "Walk",
            "contract_amount": 1000,
            "currency": "CNY",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
        },
    }
)
