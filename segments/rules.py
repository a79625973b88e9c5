"""Rule segments: validate a rule tree and compile it to one ORM filter (Q + the annotations it needs).

A rule is a group `{"op": "and"|"or", "conditions": [...]}` whose conditions are either conditions
`{"field", "operator", "value"}` or groups again. Everything runs in the database: no Python loop over customers,
except `revenue` (contract amounts are encrypted at rest: summed in Python, compiled to an id list).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db.models import Avg, Count, DecimalField, Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contracts.choices import ContractStatus
from contracts.models import Contract
from contracts.selectors import amount_matches, amount_totals
from customers.models import CustomerTag
from service_records.models import ServiceRecord

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains")
MAX_DEPTH = 4
MAX_CONDITIONS = 50
MAX_IN_VALUES = 100
MAX_TEXT = 200
MAX_NUMBER = Decimal("1000000000000")
SIGNED = (ContractStatus.ACTIVE, ContractStatus.EXPIRED, ContractStatus.TERMINATED)


class RuleError(ValueError):
    """A rule the API refuses: `path` names where (e.g. `rules.conditions[1].field`)."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Field:
    kind: str  # "text", "number", "integer", "bool", "tag", "days"
    lookup: str  # the column or annotation name
    label: str = ""


TEXT_OPS = ("eq", "ne", "in", "contains")
NUMBER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in")
FIELDS: dict[str, Field] = {
    # customer columns
    "customer_name": Field("text", "customer_name", gettext_lazy("Customer name")),
    "industry": Field("text", "industry", gettext_lazy("Industry")),
    "scale": Field("text", "scale", gettext_lazy("Scale")),
    "region": Field("text", "region", gettext_lazy("Region")),
    "source": Field("text", "source", gettext_lazy("Source")),
    "level": Field("integer", "level", gettext_lazy("Level")),
    "status": Field("integer", "status", gettext_lazy("Status")),
    "customer_type": Field("integer", "customer_type", gettext_lazy("Customer type")),
    "assigned_manager_id": Field("integer", "assigned_manager_id", gettext_lazy("Account manager (user id)")),
    "health_score": Field("number", "health_score", gettext_lazy("Health score")),
    "ltv": Field("number", "ltv", gettext_lazy("Lifetime value (LTV)")),
    # tags
    "tag": Field("tag", "tag_name", gettext_lazy("Tag")),
    # contract facts
    "has_active_contract": Field("bool", "seg_active_contract", gettext_lazy("Has an active contract")),
    "revenue": Field("number", "seg_revenue", gettext_lazy("Contract revenue")),
    "days_to_renewal": Field("days", "next_renewal_date", gettext_lazy("Days to renewal")),
    # service facts (last 90 days; satisfaction over every rated ticket)
    "tickets_90d": Field("integer", "seg_tickets_90d", gettext_lazy("Tickets in the last 90 days")),
    "breaches_90d": Field("integer", "seg_breaches_90d", gettext_lazy("SLA breaches in the last 90 days")),
    "satisfaction": Field("number", "seg_satisfaction", gettext_lazy("Average ticket satisfaction")),
}


def _ops_for(field: Field) -> tuple[str, ...]:
    if field.kind in ("text", "tag"):
        return TEXT_OPS
    if field.kind == "bool":
        return ("eq", "ne")
    return NUMBER_OPS


# --- Validation -------------------------------------------------------------------------------------------------
def _number(value, path: str, *, integer: bool) -> Decimal | int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RuleError(path, _("Must be a number."))
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RuleError(path, _("Must be a number.")) from None
    if not number.is_finite() or abs(number) > MAX_NUMBER:
        raise RuleError(path, _("Must be a number between -10^12 and 10^12."))
    if integer:
        if number != number.to_integral_value():
            raise RuleError(path, _("Must be a whole number."))
        return int(number)
    return number


def _scalar(field: Field, value, path: str):
    if field.kind in ("text", "tag"):
        if not isinstance(value, str) or not value.strip():
            raise RuleError(path, _("Must be a non-empty text."))
        if len(value) > MAX_TEXT:
            raise RuleError(path, _("At most %(n)d characters.") % {"n": MAX_TEXT})
        return value.strip()
    if field.kind == "bool":
        if not isinstance(value, bool):
            raise RuleError(path, _("Must be true or false."))
        return value
    return _number(value, path, integer=field.kind in ("integer", "days"))


def validate_rules(rules, path: str = "rules") -> dict:
    """The rule tree, normalised, or RuleError naming the first problem (unknown field / operator, bad value)."""
    count = [0]
    return _validate_group(rules, path, 1, count)


def _validate_group(group, path: str, depth: int, count: list[int]) -> dict:
    if not isinstance(group, dict):
        raise RuleError(path, _('Must be a group: {"op": "and"|"or", "conditions": [...]}.'))
    if depth > MAX_DEPTH:
        raise RuleError(path, _("Groups nest at most %(n)d levels deep.") % {"n": MAX_DEPTH})
    op = group.get("op", "and")
    if op not in ("and", "or"):
        raise RuleError(f"{path}.op", _("Unknown group operator '%(op)s' (and, or).") % {"op": str(op)[:50]})
    conditions = group.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise RuleError(f"{path}.conditions", _("Must be a non-empty list."))
    unknown = set(group) - {"op", "conditions"}
    if unknown:
        raise RuleError(path, _("Unknown key '%(key)s'.") % {"key": sorted(map(str, unknown))[0][:50]})
    out = []
    for index, item in enumerate(conditions):
        item_path = f"{path}.conditions[{index}]"
        if isinstance(item, dict) and "conditions" in item:
            out.append(_validate_group(item, item_path, depth + 1, count))
            continue
        count[0] += 1
        if count[0] > MAX_CONDITIONS:
            raise RuleError(item_path, _("A rule has at most %(n)d conditions.") % {"n": MAX_CONDITIONS})
        out.append(_validate_condition(item, item_path))
    return {"op": op, "conditions": out}


def _validate_condition(item, path: str) -> dict:
    if not isinstance(item, dict):
        raise RuleError(path, _('Must be a condition: {"field", "operator", "value"}.'))
    name = item.get("field")
    if not isinstance(name, str) or name not in FIELDS:
        raise RuleError(f"{path}.field", _("Unknown field '%(field)s'.") % {"field": str(name)[:50]})
    field = FIELDS[name]
    operator = item.get("operator")
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise RuleError(f"{path}.operator", _("Unknown operator '%(op)s'.") % {"op": str(operator)[:50]})
    if operator not in _ops_for(field):
        raise RuleError(
            f"{path}.operator",
            _("Operator '%(op)s' does not apply to field '%(field)s'.") % {"op": operator, "field": name},
        )
    if "value" not in item:
        raise RuleError(f"{path}.value", _("This field is required."))
    value = item["value"]
    if operator == "in":
        if not isinstance(value, list) or not value:
            raise RuleError(f"{path}.value", _("Must be a non-empty list."))
        if len(value) > MAX_IN_VALUES:
            raise RuleError(f"{path}.value", _("At most %(n)d values.") % {"n": MAX_IN_VALUES})
        clean = [_scalar(field, v, f"{path}.value[{i}]") for i, v in enumerate(value)]
        return {"field": name, "operator": operator, "value": [_json(v) for v in clean]}
    return {"field": name, "operator": operator, "value": _json(_scalar(field, value, f"{path}.value"))}


def _json(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# --- Compilation ------------------------------------------------------------------------------------------------
def _annotations(today) -> dict:
    since = timezone.now() - timedelta(days=90)
    tickets = ServiceRecord.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
    return {
        "seg_active_contract": Exists(Contract.objects.filter(customer=OuterRef("pk"), status=ContractStatus.ACTIVE)),
        "seg_tickets_90d": Coalesce(
            Subquery(tickets.filter(opened_at__gte=since).annotate(n=Count("pk")).values("n")), Value(0)
        ),
        "seg_breaches_90d": Coalesce(
            Subquery(tickets.filter(opened_at__gte=since, breached=True).annotate(n=Count("pk")).values("n")),
            Value(0),
        ),
        "seg_satisfaction": Subquery(
            tickets.filter(satisfaction_overall__isnull=False).annotate(a=Avg("satisfaction_overall")).values("a"),
            output_field=DecimalField(max_digits=5, decimal_places=2),
        ),
    }


def _used_fields(rules: dict) -> set[str]:
    used: set[str] = set()
    for item in rules["conditions"]:
        if "conditions" in item:
            used |= _used_fields(item)
        else:
            used.add(item["field"])
    return used


def _condition_q(item: dict, today) -> Q:
    field = FIELDS[item["field"]]
    operator, value = item["operator"], item["value"]
    if field.kind == "tag":
        tags = CustomerTag.objects.filter(customer=OuterRef("pk"))
        if operator == "in":
            tags = tags.filter(tag_name__in=value)
        elif operator == "contains":
            tags = tags.filter(tag_name__icontains=value)
        else:
            tags = tags.filter(tag_name=value)
        return ~Q(Exists(tags)) if operator == "ne" else Q(Exists(tags))
    lookup = field.lookup
    if lookup == "seg_revenue":
        return _revenue_q(operator, value)
    if field.kind == "days":  # days to renewal N  <=>  next renewal date = today + N (a date comparison)
        value = [today + timedelta(days=v) for v in value] if operator == "in" else today + timedelta(days=value)
    if operator == "eq":
        return Q(**{lookup: value})
    if operator == "ne":
        return (
            ~Q(**{lookup: value}) | Q(**{f"{lookup}__isnull": True})
            if field.kind in ("days", "number")
            else ~Q(**{lookup: value})
        )
    if operator == "contains":
        return Q(**{f"{lookup}__icontains": value})
    return Q(**{f"{lookup}__{operator}": value})


def _revenue_q(operator: str, value) -> Q:
    """Revenue (sum of signed contract amounts, 0 without one) compared in Python: the amounts are encrypted at
    rest. Exact: the customers whose total satisfies the condition, or, when 0 satisfies it (a customer without a
    signed contract qualifies), everyone but those whose total fails it."""
    totals = amount_totals(Contract.objects.filter(status__in=SIGNED))
    if amount_matches(Decimal(0), operator, value):
        return ~Q(pk__in=[pk for pk, total in totals.items() if not amount_matches(total, operator, value)])
    return Q(pk__in=[pk for pk, total in totals.items() if amount_matches(total, operator, value)])


def _group_q(group: dict, today) -> Q:
    parts = [
        _group_q(item, today) if "conditions" in item else _condition_q(item, today) for item in group["conditions"]
    ]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if group["op"] == "and" else combined | part
    return combined


def apply_rules(queryset, rules: dict, *, today=None):
    """`queryset` (customers) filtered by the validated `rules`, annotating only the facts the rule uses."""
    today = today or timezone.localdate()
    needed = {FIELDS[name].lookup for name in _used_fields(rules)}
    annotations = {key: expr for key, expr in _annotations(today).items() if key in needed}
    if annotations:
        queryset = queryset.annotate(**annotations)
    return queryset.filter(_group_q(rules, today))


OPERATOR_LABELS = {
    "eq": gettext_lazy("equals"),
    "ne": gettext_lazy("does not equal"),
    "gt": gettext_lazy("greater than"),
    "gte": gettext_lazy("at least"),
    "lt": gettext_lazy("less than"),
    "lte": gettext_lazy("at most"),
    "in": gettext_lazy("is one of"),
    "contains": gettext_lazy("contains"),
}


def builder_catalogue() -> dict:
    """What the page's condition builder needs: fields with translated labels, operator labels, limits."""
    return {
        "fields": [
            {"field": name, "label": str(field.label or name), "type": field.kind, "operators": list(_ops_for(field))}
            for name, field in FIELDS.items()
        ],
        "operators": {op: str(label) for op, label in OPERATOR_LABELS.items()},
        "max_depth": MAX_DEPTH,
        "max_conditions": MAX_CONDITIONS,
    }


def field_catalogue() -> list[dict]:
    """Fields and their operators, for the API's help and the page's builder."""
    return [{"field": name, "type": field.kind, "operators": list(_ops_for(field))} for name, field in FIELDS.items()]
