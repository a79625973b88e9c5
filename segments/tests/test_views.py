"""Staff pages: list with RFM and clusters, segment page with figures, members, export; editor; isolation."""

import json

import pytest
from django.conf import settings

from accounts.tenancy import tenant_scope
from crm_project.testing import assert_page_not_found, query_budget
from segments.models import Segment
from segments.tests.factories import customer_with, make_segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def segment(owner):
    customer_with(owner, customer_name="Sick Co", health=40)
    customer_with(owner, customer_name="Weak Co", health=55)
    customer_with(owner, customer_name="Well Co", health=90)
    return make_segment(owner, name="Needs care")


def test_nav_list_and_segment_page_show_figures_and_members(owner, staff_client_as, segment):
    client = staff_client_as(owner)
    home = client.get("/segments/")
    assert home.status_code == 200
    assert "Needs care" in home.content.decode()
    page = client.get(f"/segments/{segment.pk}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="segment-size">2<' in text
    assert 'data-testid="segment-health">47.5<' in text
    assert 'data-testid="segment-risk">100.0 %<' in text
    assert "Sick Co" in text and "Weak Co" in text and "Well Co" not in text
    assert "<script>" not in text and 'style="' not in text


def test_export_csv_and_xlsx(owner, staff_client_as, segment):
    client = staff_client_as(owner)
    response = client.get(f"/segments/{segment.pk}/export")
    body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200
    assert "Sick Co" in body and "Weak Co" in body and "Well Co" not in body
    xlsx = client.get(f"/segments/{segment.pk}/export?format=xlsx")
    assert xlsx.status_code == 200 and "spreadsheet" in xlsx["Content-Type"]


def test_create_edit_and_evaluate_from_the_page(owner, staff_client_as, segment):
    client = staff_client_as(owner)
    rules = {"op": "and", "conditions": [{"field": "colour", "operator": "eq", "value": 1}]}
    bad = client.post("/segments/new", {"name": "X", "rules": json.dumps(rules)})
    assert bad.status_code == 200 and "colour" in bad.content.decode()
    rules = {"op": "and", "conditions": [{"field": "health_score", "operator": "gte", "value": 80}]}
    created = client.post("/segments/new", {"name": "Healthy", "rules": json.dumps(rules), "is_shared": "on"})
    assert created.status_code == 302
    with tenant_scope(owner.tenant):
        healthy = Segment.objects.get(name="Healthy")
    assert healthy.member_count == 1 and healthy.is_shared
    edited = client.post(f"/segments/{healthy.pk}/edit", {"name": "Healthy!", "rules": json.dumps(rules)})
    assert edited.status_code == 302
    assert client.post(f"/segments/{segment.pk}/evaluate").status_code == 302


def test_viewer_cannot_create_or_evaluate(owner, make_user, staff_client_as, segment):
    client = staff_client_as(make_user("viewer", username="viewer"))
    assert client.get(f"/segments/{segment.pk}/").status_code == 200
    assert client.get("/segments/new").status_code == 403
    assert client.post(f"/segments/{segment.pk}/evaluate").status_code == 403


def test_other_tenant_and_private_segments_are_404(owner, outsider, make_user, staff_client_as, segment):
    for user in (outsider, make_user("csm", username="csm2")):
        client = staff_client_as(user)
        for suffix in ("/", "/export", "/edit"):
            assert_page_not_found(client, f"/segments/{segment.pk}{suffix}")
        if user is outsider:
            assert_page_not_found(client, f"/segments/{segment.pk}/evaluate", methods=("post",))


def test_page_query_budget(owner, staff_client_as, segment):
    for i in range(15):
        customer_with(owner, customer_name=f"More {i}", health=10 + i)
    client = staff_client_as(owner)
    with query_budget(20):
        assert client.get(f"/segments/{segment.pk}/").status_code == 200
    with query_budget(15):
        assert client.get("/segments/").status_code == 200


def builder_payload(html: str) -> dict:
    return json.loads(html.split('id="segment-builder-data" type="application/json">')[1].split("</script>")[0])


def test_form_page_carries_the_builder_catalogue_and_names_the_bad_row(owner, staff_client_as):
    """The builder's payload (json_script): translated field labels, per-type operators, the server's error path."""
    client = staff_client_as(owner)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = client.get("/segments/new")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    text = page.content.decode()
    assert 'src="/static/js/segment_builder.js"' in text and "<script>" not in text and 'style="' not in text
    # Without JavaScript the builder stays hidden and the JSON textarea is the editor.
    assert 'class="field span-2 sb hidden" id="segment-builder"' in text and '<textarea name="rules"' in text
    payload = builder_payload(text)
    fields = {f["field"]: f for f in payload["fields"]}
    assert fields["industry"]["label"] == "行业" and fields["industry"]["operators"] == ["eq", "ne", "in", "contains"]
    assert fields["has_active_contract"]["operators"] == ["eq", "ne"] and payload["max_depth"] == 4
    assert payload["operators"]["gte"] and payload["text"]["add_group"] and payload["error"] is None

    rules = {
        "op": "and",
        "conditions": [{"op": "or", "conditions": [{"field": "level", "operator": "gte", "value": "drei"}]}],
    }
    bad = client.post("/segments/new", {"name": "X", "rules": json.dumps(rules)})
    text = bad.content.decode()
    payload = builder_payload(text)
    assert payload["error"]["path"] == "rules.conditions[0].conditions[0].value"
    assert "rules.conditions[0].conditions[0].value" in text  # also in the form's own error (no-JS users)
