"""Real Chromium: the segment condition builder (static/js/segment_builder.js) builds a nested rule and saves it."""

from __future__ import annotations

import pytest

from accounts.tenancy import tenant_scope
from conftest import login_in_browser
from segments import selectors
from segments.models import Segment
from segments.tests.factories import customer_with, make_segment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
EXPECTED = {
    "op": "and",
    "conditions": [
        {"field": "industry", "operator": "eq", "value": "软件开发"},
        {
            "op": "or",
            "conditions": [
                {"field": "level", "operator": "gte", "value": 3},
                {"field": "health_score", "operator": "lt", "value": 60},
            ],
        },
    ],
}


def row(path: str) -> str:
    return f'[data-path="{path}"]'


def test_builder_builds_a_nested_rule_and_the_saved_segment_has_the_right_members(csp_page, make_user):
    """Under the real Content-Security-Policy (no inline script): the builder is the page's own static file."""
    page = csp_page
    lead = make_user("cs_lead", username="lead")
    customer_with(lead, customer_name="VIP Soft", industry="软件开发", level=3, health=80)
    customer_with(lead, customer_name="Sick Soft", industry="软件开发", level=1, health=50)
    customer_with(lead, customer_name="Fine Soft", industry="软件开发", level=1, health=80)
    customer_with(lead, customer_name="Sick Steel", industry="制造业", level=4, health=30)

    login_in_browser(page, "lead")
    page.goto(f"{page.base_url}/segments/new")
    page.wait_for_selector("[data-testid=segment-builder]:not(.hidden)")
    assert not page.is_visible("#id_rules")  # the builder replaces the raw JSON
    page.fill("#id_name", "软件行业重要客户")

    first = row("rules.conditions[0]")
    page.select_option(f"{first} [data-testid=sb-field]", "industry")
    # A text field offers only the text operators, with translated labels.
    options = page.locator(f"{first} [data-testid=sb-operator] option")
    operators = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert operators == ["eq", "ne", "in", "contains"]
    page.select_option(f"{first} [data-testid=sb-operator]", "eq")
    page.fill(f"{first} [data-testid=sb-value]", "软件开发")

    # A stray condition, added and removed again.
    root_foot = f"{row('rules')} > .sb-group-foot"
    page.click(f"{root_foot} [data-testid=sb-add-condition]")
    page.wait_for_selector(row("rules.conditions[1]"))
    page.click(f"{row('rules.conditions[1]')} [data-testid=sb-remove]")
    page.wait_for_selector(row("rules.conditions[1]"), state="detached")

    page.click(f"{root_foot} [data-testid=sb-add-group]")
    group = row("rules.conditions[1]")
    page.wait_for_selector(group)
    page.click(f"{group} > .sb-group-head [data-testid=sb-op-and]")
    page.click(f"{group} > .sb-group-head [data-testid=sb-op-or]")
    assert page.get_attribute(f"{group} > .sb-group-head [data-testid=sb-op-or]", "aria-pressed") == "true"

    level = row("rules.conditions[1].conditions[0]")
    page.select_option(f"{level} [data-testid=sb-field]", "level")
    assert page.locator(f"{level} [data-testid=sb-operator] option").count() == 7
    page.select_option(f"{level} [data-testid=sb-operator]", "gte")
    page.fill(f"{level} [data-testid=sb-value]", "3")
    page.click(f"{group} > .sb-group-foot [data-testid=sb-add-condition]")
    health = row("rules.conditions[1].conditions[1]")
    page.select_option(f"{health} [data-testid=sb-field]", "health_score")
    page.select_option(f"{health} [data-testid=sb-operator]", "lt")
    page.fill(f"{health} [data-testid=sb-value]", "60")

    page.click("[data-testid=save-segment]")
    page.wait_for_selector("[data-testid=segment-size]")

    with tenant_scope(lead.tenant):
        segment = Segment.objects.get(name="软件行业重要客户")
        members = [c.customer_name for c in selectors.segment_members(lead, segment)]
    assert segment.rules == EXPECTED
    assert members == ["Sick Soft", "VIP Soft"]
    assert segment.member_count == 2


def test_builder_edits_a_saved_rule_on_a_phone_and_falls_back_to_json(phone_page, make_user):
    page = phone_page
    lead = make_user("cs_lead", username="lead")
    customer_with(lead, customer_name="VIP Soft", industry="软件开发", level=3, health=80)
    segment = make_segment(lead, name="Nested", rules=EXPECTED)

    login_in_browser(page, "lead")
    page.goto(f"{page.base_url}/segments/{segment.pk}/edit")
    page.wait_for_selector("[data-testid=segment-builder]:not(.hidden)")
    # The saved rule is shown as rows (field labels translated: the page is Chinese).
    assert page.input_value(f"{row('rules.conditions[1].conditions[1]')} [data-testid=sb-field]") == "health_score"
    assert page.input_value(f"{row('rules.conditions[1].conditions[1]')} [data-testid=sb-value]") == "60"
    assert "健康" in page.inner_text(
        f"{row('rules.conditions[1].conditions[1]')} [data-testid=sb-field] option:checked"
    )
    assert page.evaluate(NO_OVERFLOW) <= 0

    # A bad value: the server refuses it and the builder marks the row it names.
    page.fill(f"{row('rules.conditions[1].conditions[0]')} [data-testid=sb-value]", "drei")
    page.click("[data-testid=save-segment]")
    page.wait_for_selector(f"{row('rules.conditions[1].conditions[0]')}.has-error")
    assert "rules.conditions[1].conditions[0].value" in page.inner_text(row("rules.conditions[1].conditions[0]"))
    assert page.evaluate(NO_OVERFLOW) <= 0

    # The raw JSON is one click away; text the builder cannot show keeps the JSON editor.
    page.click("[data-testid=sb-show-json]")
    assert page.is_visible("#id_rules") and not page.is_visible("[data-testid=segment-builder]")
    page.fill("#id_rules", '{"op": "and", "conditions": [{"field": "level", "operator": "in", "value": [3, 4]}]}')
    page.click("[data-testid=sb-show-builder]")
    assert page.input_value(f"{row('rules.conditions[0]')} [data-testid=sb-value]") == "3, 4"
    page.click("[data-testid=save-segment]")
    page.wait_for_selector("[data-testid=segment-size]")
    with tenant_scope(lead.tenant):
        saved = Segment.objects.get(pk=segment.pk)
    assert saved.rules == {"op": "and", "conditions": [{"field": "level", "operator": "in", "value": [3, 4]}]}
    assert saved.member_count == 1
