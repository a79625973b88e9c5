"""Rule validation and evaluation, including nested groups, tags, contract and service facts."""

from datetime import date, datetime

import pytest
import time_machine
from django.utils import timezone

from accounts.tenancy import tenant_scope
from customers.models import Customer
from customers.tests.factories import make_tag
from segments.rules import MAX_CONDITIONS, MAX_DEPTH, RuleError, apply_rules, validate_rules
from segments.tests.factories import customer_with, signed_contract
from service_records.tests.factories import ingest, ticket

pytestmark = pytest.mark.django_db


def names(tenant, rules, today=None):
    with tenant_scope(tenant):
        rules = validate_rules(rules)
        return sorted(apply_rules(Customer.objects.alive(), rules, today=today).values_list("customer_name", flat=True))


def cond(field, operator, value):
    return {"field": field, "operator": operator, "value": value}


@pytest.fixture
def world(owner):
    customer_with(owner, customer_name="Soft A", industry="软件开发", level=3, health=80)
    customer_with(owner, customer_name="Soft B", industry="软件开发", level=1, health=50)
    customer_with(owner, customer_name="Soft C", industry="软件开发", level=1, health=70)
    customer_with(owner, customer_name="Bank D", industry="金融", level=4, health=40)
    return owner


def test_the_issue_example_with_a_nested_or_group(world):
    rules = {
        "op": "and",
        "conditions": [
            cond("industry", "eq", "软件开发"),
            {"op": "or", "conditions": [cond("level", "gte", 3), cond("health_score", "lt", 60)]},
        ],
    }
    assert names(world.tenant, rules) == ["Soft A", "Soft B"]


def test_every_operator(world):
    t = world.tenant
    assert names(t, {"op": "and", "conditions": [cond("industry", "ne", "软件开发")]}) == ["Bank D"]
    assert names(t, {"op": "and", "conditions": [cond("health_score", "gt", 70)]}) == ["Soft A"]
    assert names(t, {"op": "and", "conditions": [cond("health_score", "gte", 70)]}) == ["Soft A", "Soft C"]
    assert names(t, {"op": "and", "conditions": [cond("health_score", "lte", 50)]}) == ["Bank D", "Soft B"]
    assert names(t, {"op": "and", "conditions": [cond("level", "in", [3, 4])]}) == ["Bank D", "Soft A"]
    assert names(t, {"op": "and", "conditions": [cond("customer_name", "contains", "soft")]}) == [
        "Soft A",
        "Soft B",
        "Soft C",
    ]
    assert names(t, {"op": "or", "conditions": [cond("level", "eq", 4), cond("health_score", "eq", 80)]}) == [
        "Bank D",
        "Soft A",
    ]


def test_groups_nest_three_levels(world):
    rules = {
        "op": "or",
        "conditions": [
            cond("industry", "eq", "金融"),
            {
                "op": "and",
                "conditions": [
                    cond("level", "eq", 1),
                    {"op": "or", "conditions": [cond("health_score", "lt", 55), cond("health_score", "gt", 65)]},
                ],
            },
        ],
    }
    assert names(world.tenant, rules) == ["Bank D", "Soft B", "Soft C"]


def test_tags_in_and_not_in(world):
    with tenant_scope(world.tenant):
        soft_a = Customer.objects.get(customer_name="Soft A")
    make_tag(world, soft_a, "vip")
    assert names(world.tenant, {"op": "and", "conditions": [cond("tag", "eq", "vip")]}) == ["Soft A"]
    assert names(world.tenant, {"op": "and", "conditions": [cond("tag", "ne", "vip"), cond("level", "eq", 4)]}) == [
        "Bank D"
    ]


def test_contract_facts_active_revenue_and_days_to_renewal(owner):
    big = customer_with(owner, customer_name="Big")
    small = customer_with(owner, customer_name="Small")
    customer_with(owner, customer_name="None")
    with time_machine.travel(datetime(2026, 3, 1, 10, tzinfo=timezone.get_current_timezone()), tick=False):
        signed_contract(owner, big, amount=300000, start=date(2026, 1, 1), end=date(2026, 4, 30))
        signed_contract(owner, small, amount=20000, start=date(2026, 1, 1), end=date(2026, 12, 31))
        today = date(2026, 3, 1)
        t = owner.tenant
        assert names(t, {"op": "and", "conditions": [cond("has_active_contract", "eq", True)]}, today) == [
            "Big",
            "Small",
        ]
        assert names(t, {"op": "and", "conditions": [cond("has_active_contract", "eq", False)]}, today) == ["None"]
        assert names(t, {"op": "and", "conditions": [cond("revenue", "gte", 100000)]}, today) == ["Big"]
        assert names(t, {"op": "and", "conditions": [cond("revenue", "lt", 100000)]}, today) == ["None", "Small"]
        # next renewal = contract end: Big renews in 60 days, Small in 305
        assert names(t, {"op": "and", "conditions": [cond("days_to_renewal", "lte", 90)]}, today) == ["Big"]


def test_service_facts_tickets_breaches_satisfaction(owner):
    busy = customer_with(owner, customer_name="Busy")
    customer_with(owner, customer_name="Quiet")
    with time_machine.travel(datetime(2026, 3, 10, 10, tzinfo=timezone.get_current_timezone()), tick=False):
        ingest(owner.tenant, [ticket(busy, opened_at="2026-03-02 09:00:00") for _ in range(3)])
        ingest(owner.tenant, [ticket(busy, opened_at="2025-10-01 09:00:00")])  # older than 90 days
        t = owner.tenant
        assert names(t, {"op": "and", "conditions": [cond("tickets_90d", "eq", 3)]}) == ["Busy"]
        assert names(t, {"op": "and", "conditions": [cond("tickets_90d", "eq", 0)]}) == ["Quiet"]
        assert names(t, {"op": "and", "conditions": [cond("breaches_90d", "gte", 0)]}) == ["Busy", "Quiet"]


@pytest.mark.parametrize(
    ("rules", "path", "text"),
    [
        ({"op": "and", "conditions": [cond("colour", "eq", "red")]}, "rules.conditions[0].field", "colour"),
        ({"op": "and", "conditions": [cond("level", "like", 1)]}, "rules.conditions[0].operator", "like"),
        ({"op": "and", "conditions": [cond("level", "contains", 1)]}, "rules.conditions[0].operator", "contains"),
        ({"op": "xor", "conditions": [cond("level", "eq", 1)]}, "rules.op", "xor"),
        ({"op": "and", "conditions": []}, "rules.conditions", ""),
        ({"op": "and", "conditions": [cond("level", "eq", "x")]}, "rules.conditions[0].value", ""),
        ({"op": "and", "conditions": [cond("level", "eq", 10**30)]}, "rules.conditions[0].value", ""),
        ({"op": "and", "conditions": [cond("level", "eq", 1.5)]}, "rules.conditions[0].value", ""),
        ({"op": "and", "conditions": [cond("industry", "eq", "x" * 300)]}, "rules.conditions[0].value", ""),
        ({"op": "and", "conditions": [cond("level", "in", [])]}, "rules.conditions[0].value", ""),
        ({"op": "and", "conditions": [cond("has_active_contract", "eq", "yes")]}, "rules.conditions[0].value", ""),
        (
            {"op": "and", "conditions": [{"op": "or", "conditions": [cond("colour", "eq", 1)]}]},
            "rules.conditions[0].conditions[0].field",
            "colour",
        ),
        ("nope", "rules", ""),
    ],
)
def test_bad_rules_name_the_problem(rules, path, text):
    with pytest.raises(RuleError) as caught:
        validate_rules(rules)
    assert caught.value.path == path
    assert text in caught.value.message


def test_depth_and_size_limits():
    deep = cond("level", "eq", 1)
    for _ in range(MAX_DEPTH + 1):
        deep = {"op": "and", "conditions": [deep]}
    with pytest.raises(RuleError) as caught:
        validate_rules(deep)
    assert caught.value.path == "rules" + ".conditions[0]" * MAX_DEPTH
    wide = {"op": "and", "conditions": [cond("level", "eq", 1)] * (MAX_CONDITIONS + 1)}
    with pytest.raises(RuleError) as caught:
        validate_rules(wide)
    assert caught.value.path == f"rules.conditions[{MAX_CONDITIONS}]"
