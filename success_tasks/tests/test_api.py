"""The success-task API (PRD 4.1.3): the PRD's two calls with its exact bodies, the status flow, isolation, roles."""

from __future__ import annotations

import pytest

from accounts.models import AuditLog, User
from accounts.tenancy import tenant_scope
from accounts.tests.factories import UserFactory
from crm_project.testing import assert_api_not_found, assert_envelope, assert_isolated, query_budget
from customers.tests.factories import CustomerFactory
from success_tasks.models import CustomerSuccessTask, TaskComment
from success_tasks.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

PRD_CREATE_BODY = {
    "task_title": "客户健康度改善计划",
    "task_description": "针对客户健康度下降，制定改善计划",
    "task_type": 1,
    "priority": 3,
    "assigned_to": 1001,
    "due_date": "2025-08-25 18:00:00",
}


@pytest.fixture
def prd_world(tenant, owner):
    """The PRD's ids: user 1001 (a CSM) and customer 12345 ("ABC科技有限公司")."""
    csm = UserFactory(tenant=tenant, id=1001, username="csm1001", role="csm")
    customer = CustomerFactory(actor=owner, customer_name="ABC科技有限公司", assigned_manager=csm)
    with tenant_scope(tenant):
        type(customer).objects.filter(pk=customer.pk).update(id=12345)
        customer = type(customer).objects.get(pk=12345)
    return csm, customer


def test_prd_create_then_list_replayed_with_the_exact_bodies(api_as, owner, prd_world):
    csm, customer = prd_world
    api = api_as(owner)
    created = assert_envelope(api.post("/api/v1/customers/12345/success-tasks", PRD_CREATE_BODY, format="json"), 201)
    assert created["customer_id"] == 12345
    assert created["task_title"] == "客户健康度改善计划"
    assert created["status"] == 1
    assert created["assigned_to"] == 1001
    assert created["due_date"] == "2025-08-25 18:00:00"
    assert set(created) >= {"task_id", "customer_id", "task_title", "status", "assigned_to", "created_at"}

    data = assert_envelope(api.get("/api/v1/customers/success-tasks?assigned_to=1001&status=1&page=1&size=20"), 200)
    assert (data["total"], data["page"], data["size"]) == (1, 1, 20)
    item = data["items"][0]
    assert item["task_id"] == created["task_id"]
    assert item["customer_name"] == "ABC科技有限公司"
    assert {k: item[k] for k in ("task_type", "priority", "status", "due_date", "auto_generated")} == {
        "task_type": 1,
        "priority": 3,
        "status": 1,
        "due_date": "2025-08-25 18:00:00",
        "auto_generated": 0,
    }
    with tenant_scope(owner.tenant):
        task = CustomerSuccessTask.objects.get(pk=created["task_id"])
        assert AuditLog.objects.filter(action="crm.success_task.created", object_id=str(task.pk)).exists()
    assert task.assigned_to_id == 1001 and task.created_by == owner


def test_success_tasks_path_is_not_read_as_a_customer_id(api_as, owner):
    data = assert_envelope(api_as(owner).get("/api/v1/customers/success-tasks"), 200)
    assert data["items"] == []


def test_list_filters_other_assignees_and_statuses(api_as, owner, prd_world, make_user):
    csm, customer = prd_world
    other = make_user("csm")
    TaskFactory(actor=owner, customer=customer, assigned_to=csm)
    TaskFactory(actor=owner, customer=customer, assigned_to=other)
    data = assert_envelope(api_as(owner).get("/api/v1/customers/success-tasks?assigned_to=1001"), 200)
    assert data["total"] == 1
    data = assert_envelope(api_as(owner).get("/api/v1/customers/success-tasks?status=3"), 200)
    assert data["total"] == 0


def test_create_validation_names_the_field(api_as, owner, prd_world, outsider):
    api = api_as(owner)
    url = "/api/v1/customers/12345/success-tasks"
    for body, field in (
        ({**PRD_CREATE_BODY, "task_type": 9}, "task_type"),
        ({**PRD_CREATE_BODY, "task_title": "x" * 201}, "task_title"),
        ({**PRD_CREATE_BODY, "assigned_to": outsider.pk}, "assigned_to"),
        ({**PRD_CREATE_BODY, "assigned_to": 10**30}, "assigned_to"),
        ({**PRD_CREATE_BODY, "due_date": "2025-13-45 99:00:00"}, "due_date"),
        ({**PRD_CREATE_BODY, "status": 3}, "status"),
    ):
        data = assert_envelope(api.post(url, body, format="json"), 400, code=40000)
        assert field in data["errors"], (field, data)
    assert CustomerSuccessTask.objects.model.objects.none().count() == 0


def test_status_flow_done_needs_a_result(api_as, owner, prd_world):
    csm, customer = prd_world
    task = TaskFactory(actor=owner, customer=customer, assigned_to=csm)
    api = api_as(csm)
    url = f"/api/v1/customers/success-tasks/{task.pk}/status"
    assert_envelope(api.post(url, {"status": 3}, format="json"), 409, code=40900)  # pending -> done: not allowed
    assert assert_envelope(api.post(url, {"status": 2}, format="json"), 200)["status"] == 2
    data = assert_envelope(api.post(url, {"status": 3}, format="json"), 400, code=40000)
    assert "result" in data["errors"]
    done = assert_envelope(api.post(url, {"status": 3, "result": "Plan agreed"}, format="json"), 200)
    assert done["status"] == 3 and done["result"] == "Plan agreed" and done["completion_date"]
    assert_envelope(api.post(url, {"status": 1}, format="json"), 409, code=40900)


def test_update_comments_and_reassign(api_as, owner, prd_world, make_user):
    csm, customer = prd_world
    task = TaskFactory(actor=owner, customer=customer, assigned_to=csm)
    base = f"/api/v1/customers/success-tasks/{task.pk}"
    api = api_as(csm)
    data = assert_envelope(api.patch(base, {"priority": 4, "task_title": "Renamed"}, format="json"), 200)
    assert (data["priority"], data["task_title"]) == (4, "Renamed")
    assert_envelope(api.patch(base, {"status": 3}, format="json"), 400)
    assert_envelope(api.post(base + "/comments", {"body": "Called them"}, format="json"), 201)
    comments = assert_envelope(api.get(base + "/comments"), 200)
    assert [c["body"] for c in comments] == ["Called them"]
    # A CSM may not reassign; a lead may.
    lead = make_user("cs_lead")
    other = make_user("csm")
    assert_envelope(api.post(base + "/reassign", {"assigned_to": other.pk}, format="json"), 403)
    assert CustomerSuccessTask.objects.model.objects.none().count() == 0
    data = assert_envelope(api_as(lead).post(base + "/reassign", {"assigned_to": other.pk}, format="json"), 200)
    assert data["assigned_to"] == other.pk


def test_viewer_reads_but_cannot_write(api_as, owner, prd_world, make_user):
    csm, customer = prd_world
    task = TaskFactory(actor=owner, customer=customer, assigned_to=csm)
    viewer = make_user("viewer")
    api = api_as(viewer)
    assert_envelope(api.get("/api/v1/customers/success-tasks"), 200)
    assert_envelope(api.post("/api/v1/customers/12345/success-tasks", PRD_CREATE_BODY, format="json"), 403)
    assert_envelope(api.post(f"/api/v1/customers/success-tasks/{task.pk}/status", {"status": 2}, format="json"), 403)
    assert_envelope(api.post(f"/api/v1/customers/success-tasks/{task.pk}/comments", {"body": "x"}, format="json"), 403)
    with tenant_scope(owner.tenant):
        assert CustomerSuccessTask.objects.count() == 1
        task.refresh_from_db()
        assert task.status == 1
        assert TaskComment.objects.count() == 0


def test_every_route_is_isolated_from_another_tenant_and_from_csms_without_the_customer(
    api_as, owner, outsider, prd_world, make_user
):
    csm, customer = prd_world
    task = TaskFactory(actor=owner, customer=customer, assigned_to=csm)
    stranger = make_user("csm")  # same tenant, customer neither assigned nor shared
    base = f"/api/v1/customers/success-tasks/{task.pk}"
    for other in (outsider, stranger):
        for url in (base, base + "/comments"):
            assert_isolated(url=url, owner_client=api_as(owner), outsider_client=api_as(other), api=True, code=40400)
        assert_api_not_found(api_as(other), base + "/status", methods=("post",), payload={"status": 2}, code=40400)
        assert_api_not_found(api_as(other), base + "/comments", methods=("post",), payload={"body": "x"}, code=40400)
        assert_api_not_found(api_as(other), base, methods=("patch",), payload={"priority": 1}, code=40400)
        assert_isolated(
            url="/api/v1/customers/12345/success-tasks",
            owner_client=api_as(owner),
            outsider_client=api_as(other),
            api=True,
            code=40001,
        )
        assert_api_not_found(
            api_as(other),
            "/api/v1/customers/12345/success-tasks",
            methods=("post",),
            payload=PRD_CREATE_BODY,
            code=40001,
        )
        assert assert_envelope(api_as(other).get("/api/v1/customers/success-tasks"), 200)["total"] == 0
    lead = make_user("cs_lead")
    assert_api_not_found(
        api_as(outsider), base + "/reassign", methods=("post",), payload={"assigned_to": lead.pk}, code=40400
    )
    with tenant_scope(owner.tenant):
        assert CustomerSuccessTask.objects.count() == 1
        assert TaskComment.objects.count() == 0
        task.refresh_from_db()
        assert (task.status, task.priority, task.assigned_to_id) == (1, 2, 1001)
    # The assigned CSM sees it.
    assert assert_envelope(api_as(csm).get("/api/v1/customers/success-tasks"), 200)["total"] == 1


def test_list_query_budget(api_as, owner, prd_world):
    csm, customer = prd_world
    for _ in range(12):
        TaskFactory(actor=owner, customer=customer, assigned_to=csm)
    api = api_as(owner)
    api.get("/api/v1/customers/success-tasks")  # warm caches (permissions)
    with query_budget(8):
        data = assert_envelope(api.get("/api/v1/customers/success-tasks?size=20"), 200)
    assert data["total"] == 12


def test_hostile_inputs_never_500(api_as, owner, prd_world):
    api = api_as(owner)
    for url in (
        "/api/v1/customers/success-tasks?assigned_to=abc&status=99&page=-1&size=100000",
        "/api/v1/customers/success-tasks?assigned_to=99999999999999999999999",
        "/api/v1/customers/success-tasks/99999999999999999999999",
        "/api/v1/customers/99999999999999999999/success-tasks",
    ):
        assert api.get(url).status_code < 500, url
    body = {**PRD_CREATE_BODY, "task_description": "界" * 10001}
    assert api.post("/api/v1/customers/12345/success-tasks", body, format="json").status_code == 400
    assert User.objects.filter(pk=1001).exists()
