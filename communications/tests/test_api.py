"""The communications API as a client sees it: PRD shapes, filters, isolation, roles with side effects, budgets."""

import pytest

from accounts.models import AuditLog
from accounts.tenancy import tenant_scope
from communications.models import Communication
from communications.tests.factories import make_communication
from crm_project.api import codes
from crm_project.testing import assert_api_not_found, assert_envelope, query_budget
from customers.tests.factories import make_contact, make_customer, reload

pytestmark = pytest.mark.django_db

BODY = {
    "communication_type": 1,
    "direction": 2,
    "subject": "季度回顾",
    "content": "客户对上季度零故障运行非常满意，准备续约并扩容监控节点。",
    "duration_minutes": 30,
    "outcome": "续约意向明确",
    "next_action": "发送续约报价",
    "next_action_due": "2030-01-10",
    "importance": 3,
    "communication_date": "2026-11-30 10:00:00",
}


def test_create_analyses_at_once_and_answers_the_prd_fields(owner, api_as):
    customer = make_customer(owner)
    contact = make_contact(owner, customer)
    data = assert_envelope(
        api_as(owner).post(
            f"/api/v1/customers/{customer.pk}/communications", {**BODY, "contact_id": contact.pk}, format="json"
        ),
        201,
    )
    assert data["sentiment"] == 3 and data["sentiment_score"] > 0 and data["language"] == "zh"
    assert {"tag": "upsell_interest", "evidence": "扩容"} in data["needs"]
    assert data["next_action_due"] == "2030-01-10"
    assert data["communication_date"] == "2026-11-30 10:00:00"
    assert data["contact_id"] == contact.pk and data["staff_id"] == owner.pk
    assert reload(customer).last_contact_date is not None


def test_a_contact_of_another_customer_answers_400_naming_contact_id(owner, api_as):
    customer, other = make_customer(owner), make_customer(owner)
    stranger = make_contact(owner, other)
    response = api_as(owner).post(
        f"/api/v1/customers/{customer.pk}/communications", {**BODY, "contact_id": stranger.pk}, format="json"
    )
    assert_envelope(response, 400, code=codes.VALIDATION_ERROR)
    assert response.json()["data"]["field"] == "contact_id"
    with tenant_scope(owner.tenant):
        assert not Communication.objects.exists()


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"communication_type": 9}, "communication_type"),
        ({"duration_minutes": 10**30}, "duration_minutes"),
        ({"communication_date": "yesterday"}, "communication_date"),
        ({"subject": "x" * 201}, "subject"),
        ({"contact_id": 10**30}, "contact_id"),
        ({"sentiment_score": 1}, "sentiment_score"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(owner, api_as, patch, field):
    customer = make_customer(owner)
    response = api_as(owner).post(f"/api/v1/customers/{customer.pk}/communications", {**BODY, **patch}, format="json")
    assert_envelope(response, 400)
    assert response.json()["data"]["field"] == field


def test_list_filters_and_sorts(owner, api_as):
    customer = make_customer(owner)
    make_communication(owner, customer, content="客户投诉宕机，很不满意", communication_type=1)
    make_communication(owner, customer, content="Thanks, great job", communication_type=2, importance=3)
    make_communication(owner, customer, content="Routine agenda sent", communication_type=3, direction=1)
    url = f"/api/v1/customers/{customer.pk}/communications"
    client = api_as(owner)
    assert assert_envelope(client.get(url), 200)["total"] == 3
    assert [i["communication_type"] for i in assert_envelope(client.get(url + "?sentiment=1"), 200)["items"]] == [1]
    assert assert_envelope(client.get(url + "?communication_type=2,3"), 200)["total"] == 2
    assert assert_envelope(client.get(url + "?direction=1"), 200)["total"] == 1
    assert assert_envelope(client.get(url + "?importance=3"), 200)["total"] == 1
    assert assert_envelope(client.get(url + "?date_from=2000-01-01&date_to=2000-01-02"), 200)["total"] == 0
    assert_envelope(client.get(url + "?sentiment=7"), 400)
    assert_envelope(client.get(url + "?date_from=notadate"), 400)


def test_list_query_budget_does_not_grow_with_rows(owner, api_as):
    customer = make_customer(owner)
    for index in range(12):
        make_communication(owner, customer, contact=make_contact(owner, customer), content=f"note {index} 满意")
    client = api_as(owner)
    with query_budget(8):
        assert_envelope(client.get(f"/api/v1/customers/{customer.pk}/communications?size=50"), 200)


def test_update_reanalyses_and_delete_is_soft(owner, api_as):
    customer = make_customer(owner)
    comm = make_communication(owner, customer, content="Thanks, great work")
    client = api_as(owner)
    data = assert_envelope(
        client.patch(
            f"/api/v1/communications/{comm.pk}", {"content": "They are furious about the outage"}, format="json"
        ),
        200,
    )
    assert data["sentiment"] == 1
    assert_envelope(client.delete(f"/api/v1/communications/{comm.pk}"), 200)
    assert_envelope(client.get(f"/api/v1/communications/{comm.pk}"), 404, code=codes.NOT_FOUND)
    with tenant_scope(owner.tenant):
        assert Communication.objects.get(pk=comm.pk).deleted_at is not None
        assert AuditLog.objects.filter(action="crm.communication.deleted").exists()


def test_sentiment_override_through_the_api(owner, api_as):
    comm = make_communication(owner, make_customer(owner), content="Thanks, great work")
    data = assert_envelope(
        api_as(owner).put(f"/api/v1/communications/{comm.pk}/sentiment", {"sentiment": 2}, format="json"), 200
    )
    assert data["sentiment"] == 2 and data["sentiment_overridden"] is True


def test_analyze_answers_without_storing(owner, api_as):
    data = assert_envelope(
        api_as(owner).post(
            "/api/v1/communications/analyze", {"text": "The customer is not happy and will not renew."}, format="json"
        ),
        200,
    )
    assert set(data) == {"sentiment", "score", "keywords", "needs", "language"}
    assert data["sentiment"] == 1 and -1 <= data["score"] < 0 and data["language"] == "en"
    assert any(need["tag"] == "renewal_risk" for need in data["needs"])
    with tenant_scope(owner.tenant):
        assert not Communication.objects.exists()


def test_analyze_caps_the_text_length(owner, api_as):
    client = api_as(owner)
    assert_envelope(client.post("/api/v1/communications/analyze", {"text": "宕" * 20_000}, format="json"), 200)
    response = client.post("/api/v1/communications/analyze", {"text": "宕" * 20_001}, format="json")
    assert_envelope(response, 400)
    assert response.json()["data"]["field"] == "text"
    assert_envelope(client.post("/api/v1/communications/analyze", {"text": ""}, format="json"), 400)
    assert_envelope(client.post("/api/v1/communications/analyze", {"text": ["x"]}, format="json"), 400)


def test_bulk_create_queues_the_analysis(owner, api_as, monkeypatch, django_capture_on_commit_callbacks):
    from communications import tasks

    queued = []
    monkeypatch.setattr(tasks.analyze_communications, "delay", lambda tenant, ids: queued.append(ids))
    customer = make_customer(owner)
    with django_capture_on_commit_callbacks(execute=True):
        data = assert_envelope(
            api_as(owner).post(
                f"/api/v1/customers/{customer.pk}/communications/bulk",
                {"items": [{"communication_type": 1, "direction": 1, "content": "ok"}] * 2},
                format="json",
            ),
            201,
        )
    assert len(data) == 2 and queued == [[item["communication_id"] for item in data]]


def test_another_tenants_ids_answer_404_on_every_route(owner, outsider, api_as):
    customer = make_customer(owner)
    comm = make_communication(owner, customer)
    client = api_as(outsider)
    assert_api_not_found(
        client,
        f"/api/v1/customers/{customer.pk}/communications",
        methods=("get", "post"),
        code=codes.CUSTOMER_NOT_FOUND,
        payload=BODY,
    )
    assert_api_not_found(
        client,
        f"/api/v1/customers/{customer.pk}/communications/bulk",
        methods=("post",),
        code=codes.CUSTOMER_NOT_FOUND,
        payload={"items": [BODY]},
    )
    assert_api_not_found(
        client, f"/api/v1/communications/{comm.pk}", methods=("get", "patch", "put", "delete"), payload=BODY
    )
    assert_api_not_found(
        client, f"/api/v1/communications/{comm.pk}/sentiment", methods=("put",), payload={"sentiment": 1}
    )
    assert_api_not_found(client, "/api/v1/communications/99999999999999999999999")
    with tenant_scope(owner.tenant):
        assert Communication.objects.alive().filter(pk=comm.pk, sentiment=comm.sentiment).exists()


def test_a_csm_logs_for_their_customers_only(owner, teammate, make_user, api_as):
    mine = make_customer(owner, assigned_manager=teammate)
    not_mine = make_customer(owner, assigned_manager=make_user("csm"))
    client = api_as(teammate)
    assert_envelope(client.post(f"/api/v1/customers/{mine.pk}/communications", BODY, format="json"), 201)
    assert_envelope(client.post(f"/api/v1/customers/{not_mine.pk}/communications", BODY, format="json"), 404)
    comm = make_communication(owner, mine)
    assert_envelope(client.delete(f"/api/v1/communications/{comm.pk}"), 403)  # delete: leads and admins
    with tenant_scope(owner.tenant):
        assert Communication.objects.filter(customer=mine).count() == 2
        assert not Communication.objects.filter(customer=not_mine).exists()
        assert Communication.objects.alive().filter(pk=comm.pk).exists()


def test_a_viewer_reads_but_cannot_write(owner, make_user, api_as):
    viewer = make_user("viewer")
    customer = make_customer(owner)
    comm = make_communication(owner, customer)
    client = api_as(viewer)
    assert_envelope(client.get(f"/api/v1/customers/{customer.pk}/communications"), 200)
    assert_envelope(client.post(f"/api/v1/customers/{customer.pk}/communications", BODY, format="json"), 403)
    assert_envelope(client.patch(f"/api/v1/communications/{comm.pk}", {"subject": "x"}, format="json"), 403)
    assert_envelope(client.put(f"/api/v1/communications/{comm.pk}/sentiment", {"sentiment": 1}, format="json"), 403)
    with tenant_scope(owner.tenant):
        assert Communication.objects.count() == 1
        assert Communication.objects.get(pk=comm.pk).subject == comm.subject


def test_the_schema_lists_the_endpoints(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    for path in (
        "/api/v1/customers/{customer_id}/communications",
        "/api/v1/communications/{communication_id}",
        "/api/v1/communications/analyze",
    ):
        assert path in schema["paths"]


def test_rules_of_the_service_answer_400_naming_the_field(owner, outsider, api_as):
    customer = make_customer(owner)
    client = api_as(owner)
    url = f"/api/v1/customers/{customer.pk}/communications"
    response = client.post(url, {**BODY, "communication_date": "2099-01-01 00:00:00"}, format="json")
    assert_envelope(response, 400)
    assert response.json()["data"]["field"] == "communication_date"
    response = client.post(url, {**BODY, "staff_id": outsider.pk}, format="json")
    assert_envelope(response, 400)
    assert response.json()["data"]["field"] == "staff_id"
    response = client.post(url, {**BODY, "next_action": ""}, format="json")
    assert_envelope(response, 400)
    assert response.json()["data"]["field"] == "next_action"
    with tenant_scope(owner.tenant):
        assert not Communication.objects.exists()


def test_unicode_and_long_texts_do_not_break_the_api(owner, api_as):
    customer = make_customer(owner)
    body = {**BODY, "content": "😀🚀 \u202e 𠀀" * 1000, "subject": "‮" * 200}
    data = assert_envelope(
        api_as(owner).post(f"/api/v1/customers/{customer.pk}/communications", body, format="json"), 201
    )
    assert data["subject"] == "‮" * 200
