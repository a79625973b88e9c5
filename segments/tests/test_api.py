"""The segment endpoints: create with a rule tree, members in the customer list's shape, errors, visibility."""

import pytest

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from crm_project.api import codes
from crm_project.testing import assert_api_not_found, assert_envelope, query_budget
from customers.tests.factories import share
from segments.models import Segment, SegmentMembership
from segments.tests.factories import customer_with, make_segment

pytestmark = pytest.mark.django_db

ISSUE_BODY = {
    "name": "软件行业重要客户",
    "rules": {
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
    },
}


@pytest.fixture
def customers(owner):
    return {
        "a": customer_with(owner, customer_name="Soft A", industry="软件开发", level=3, health=80),
        "b": customer_with(owner, customer_name="Soft B", industry="软件开发", level=1, health=50),
        "c": customer_with(owner, customer_name="Soft C", industry="软件开发", level=1, health=70),
    }


def test_create_answers_segment_id_and_members_list_like_customers(owner, api_as, customers):
    client = api_as(owner)
    data = assert_envelope(client.post("/api/v1/segments", ISSUE_BODY, format="json"), 201)
    segment_id = data["segment_id"]
    assert data["member_count"] == 2
    page = assert_envelope(client.get(f"/api/v1/segments/{segment_id}/members?page=1&size=1"), 200)
    assert page["total"] == 2 and page["size"] == 1 and len(page["items"]) == 1
    listed = assert_envelope(client.get("/api/v1/customers?size=100"), 200)["items"]
    by_id = {item["customer_id"]: item for item in listed}
    item = page["items"][0]
    assert item == by_id[item["customer_id"]]  # the customer list's item shape, field for field
    with tenant_scope(owner.tenant):
        assert AuditLog.objects.filter(action="crm.segment.created").count() == 1
        assert SegmentMembership.objects.filter(segment_id=segment_id, left_at__isnull=True).count() == 2


@pytest.mark.parametrize(
    ("condition", "key", "word"),
    [
        ({"field": "colour", "operator": "eq", "value": "red"}, "rules.conditions[0].field", "colour"),
        ({"field": "level", "operator": "approx", "value": 1}, "rules.conditions[0].operator", "approx"),
    ],
)
def test_unknown_field_or_operator_is_a_400_naming_it(owner, api_as, condition, key, word):
    body = {"name": "Bad", "rules": {"op": "and", "conditions": [condition]}}
    response = api_as(owner).post("/api/v1/segments", body, format="json")
    assert_envelope(response, 400, code=codes.VALIDATION_ERROR)
    errors = response.json()["data"]["errors"]
    assert key in errors and word in errors[key][0]
    with tenant_scope(owner.tenant):
        assert not Segment.objects.exists()


def test_duplicate_name_is_a_400(owner, api_as, customers):
    client = api_as(owner)
    assert_envelope(client.post("/api/v1/segments", ISSUE_BODY, format="json"), 201)
    response = client.post("/api/v1/segments", ISSUE_BODY, format="json")
    assert_envelope(response, 400)
    assert "name" in response.json()["data"]["errors"]


def test_members_go_through_customer_visibility(owner, make_user, api_as, customers):
    csm = make_user("csm", username="csm1")
    share(owner, customers["b"], csm)
    segment = make_segment(owner, rules=ISSUE_BODY["rules"], is_shared=True)
    page = assert_envelope(api_as(csm).get(f"/api/v1/segments/{segment.pk}/members"), 200)
    assert [item["customer_name"] for item in page["items"]] == ["Soft B"]


def test_private_segment_of_someone_else_is_404_and_shared_one_read_only(owner, make_user, api_as, customers):
    author = make_user("csm", username="author")
    other = make_user("csm", username="other")
    private = make_segment(author, name="Mine")
    shared = make_segment(author, name="Ours", is_shared=True)
    client = api_as(other)
    assert_api_not_found(client, f"/api/v1/segments/{private.pk}", methods=("get", "patch"))
    assert_api_not_found(client, f"/api/v1/segments/{private.pk}/members")
    assert_envelope(client.get(f"/api/v1/segments/{shared.pk}"), 200)
    assert_envelope(client.patch(f"/api/v1/segments/{shared.pk}", {"name": "Taken"}, format="json"), 403)
    with tenant_scope(owner.tenant):
        assert Segment.objects.get(pk=shared.pk).name == "Ours"
    # a lead changes anyone's segment
    lead = make_user("cs_lead", username="lead")
    assert_envelope(api_as(lead).patch(f"/api/v1/segments/{shared.pk}", {"name": "Renamed"}, format="json"), 200)


def test_other_tenant_gets_404_on_every_segment_route(owner, outsider, api_as, customers):
    segment = make_segment(owner)
    client = api_as(outsider)
    for suffix in ("", "/members", "/history"):
        assert_api_not_found(client, f"/api/v1/segments/{segment.pk}{suffix}")
    assert_api_not_found(client, f"/api/v1/segments/{segment.pk}/evaluate", methods=("post",))
    assert_api_not_found(client, f"/api/v1/segments/{segment.pk}", methods=("patch", "put", "delete"))
    assert assert_envelope(client.get("/api/v1/segments"), 200)["total"] == 0


def test_viewer_reads_but_cannot_create_or_evaluate(owner, make_user, api_as, customers):
    viewer = make_user("viewer", username="viewer")
    segment = make_segment(owner)
    client = api_as(viewer)
    assert_envelope(client.get(f"/api/v1/segments/{segment.pk}/members"), 200)
    assert_envelope(client.post("/api/v1/segments", ISSUE_BODY, format="json"), 403)
    assert_envelope(client.post(f"/api/v1/segments/{segment.pk}/evaluate"), 403)
    with tenant_scope(owner.tenant):
        assert Segment.objects.count() == 1
        assert not AuditLog.objects.filter(action="crm.segment.evaluated").exists()


def test_update_rules_reevaluates_and_delete(owner, api_as, customers):
    segment = make_segment(owner)  # health < 60: Soft B
    client = api_as(owner)
    body = {"rules": {"op": "and", "conditions": [{"field": "health_score", "operator": "gte", "value": 70}]}}
    data = assert_envelope(client.patch(f"/api/v1/segments/{segment.pk}", body, format="json"), 200)
    assert data["member_count"] == 2
    history = assert_envelope(client.get(f"/api/v1/segments/{segment.pk}/history"), 200)
    left = [row for row in history["items"] if row["left_at"]]
    assert [row["customer_name"] for row in left] == ["Soft B"]
    assert_envelope(client.delete(f"/api/v1/segments/{segment.pk}"), 200)
    assert_api_not_found(client, f"/api/v1/segments/{segment.pk}")


def test_fields_catalogue_and_rfm_overview(owner, api_as):
    client = api_as(owner)
    fields = {row["field"] for row in assert_envelope(client.get("/api/v1/segments/fields"), 200)}
    assert {"industry", "tag", "health_score", "revenue", "days_to_renewal", "tickets_90d"} <= fields
    data = assert_envelope(client.get("/api/v1/segments/rfm"), 200)
    assert data == {"segments": [], "clusters": None}


def test_list_and_members_query_budgets(owner, api_as, customers):
    for i in range(12):
        customer_with(owner, customer_name=f"Extra {i}", industry="软件开发", level=4, health=90)
        make_segment(owner, name=f"Segment {i}")
    segment = make_segment(owner, name="Issue", rules=ISSUE_BODY["rules"])
    client = api_as(owner)
    with query_budget(8):
        assert assert_envelope(client.get("/api/v1/segments?size=50"), 200)["total"] == 13
    with query_budget(8):
        assert assert_envelope(client.get(f"/api/v1/segments/{segment.pk}/members?size=50"), 200)["total"] == 14
