"""Success-task REST endpoints (PRD 4.1.3). A task is visible when its customer is (customers_visible_to)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated

from crm_project.api import codes
from crm_project.api.envelope import api_response
from crm_project.api.exceptions import ApiError
from crm_project.api.pagination import PageSizePagination
from crm_project.api.permissions import RolePermission
from crm_project.api.sorting import SortFilter
from customers.selectors import customer_get_visible
from success_tasks import selectors, services
from success_tasks.api.serializers import (
    CommentSerializer,
    ReassignSerializer,
    StatusSerializer,
    TaskCreateSerializer,
    TaskSerializer,
    TaskUpdateSerializer,
)
from success_tasks.filtersets import TaskFilterSet
from success_tasks.models import CustomerSuccessTask

VIEW = "success_tasks.view_customersuccesstask"
ADD = "success_tasks.add_customersuccesstask"
CHANGE = "success_tasks.change_customersuccesstask"
REASSIGN = "success_tasks.reassign_customersuccesstask"
SORT_FIELDS = {
    "due_date": "due_date",
    "priority": "priority",
    "status": "status",
    "created_at": "created_at",
    "customer_name": "customer__customer_name",
}


class TaskAPIView(GenericAPIView):
    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {"GET": VIEW, "PUT": CHANGE, "PATCH": CHANGE, "POST": CHANGE}
    filter_backends: list = []
    pagination_class = None
    queryset = CustomerSuccessTask.objects.none()

    def get_task(self) -> CustomerSuccessTask:
        task = selectors.task_get_visible(self.request.user, self.kwargs["task_id"])
        if task is None:
            raise NotFound(_("Task not found."))
        return task

    def handle_exception(self, exc):
        if isinstance(exc, services.TaskStateError):
            exc = ApiError(codes.CONFLICT, str(exc), status_code=409)
        elif isinstance(exc, DjangoValidationError):
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            field = next(iter(errors))
            exc = ApiError(
                codes.VALIDATION_ERROR,
                f"{field}: {errors[field][0]}",
                status_code=400,
                data={"field": field, "errors": errors},
            )
        return super().handle_exception(exc)

    def ok(self, task, message: str = "", status: int = 200):
        return api_response(TaskSerializer(task).data, message=message, status=status)


class TaskListView(TaskAPIView):
    """`GET /customers/success-tasks?assigned_to=&status=&page=&size=` (also customer, task_type, priority, sort)."""

    filter_backends = [DjangoFilterBackend, SortFilter]
    filterset_class = TaskFilterSet
    sort_fields = SORT_FIELDS
    default_sort = ["due_date"]
    pagination_class = PageSizePagination

    def get_queryset(self):
        return selectors.task_list_queryset(self.request.user)

    @extend_schema(responses={200: TaskSerializer(many=True)}, tags=["success-tasks"])
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TaskSerializer(page, many=True).data)


class CustomerTaskListCreateView(TaskListView):
    """`GET/POST /customers/{customer_id}/success-tasks`."""

    required_perms = {"GET": VIEW, "POST": ADD}
    not_found_code = codes.CUSTOMER_NOT_FOUND

    def get_customer(self):
        customer = customer_get_visible(self.request.user, self.kwargs["customer_id"])
        if customer is None:
            raise ApiError(codes.CUSTOMER_NOT_FOUND, _("Customer not found."), status_code=404)
        return customer

    def get_queryset(self):
        return super().get_queryset().filter(customer=self.get_customer())

    @extend_schema(
        responses={200: TaskSerializer(many=True)}, tags=["success-tasks"], operation_id="customer_success_tasks_list"
    )
    def get(self, request, customer_id):
        return super().get(request)

    @extend_schema(request=TaskCreateSerializer, responses={201: TaskSerializer}, tags=["success-tasks"], filters=False)
    def post(self, request, customer_id):
        customer = self.get_customer()
        serializer = TaskCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        task = services.task_create(
            actor=request.user, customer=customer, data=dict(serializer.validated_data), request=request
        )
        return self.ok(task, _("Task created"), status=201)


class TaskDetailView(TaskAPIView):
    """`GET /customers/success-tasks/{task_id}`; `PUT/PATCH` edits title, description, type, priority, due date."""

    @extend_schema(responses={200: TaskSerializer}, tags=["success-tasks"])
    def get(self, request, task_id):
        return self.ok(self.get_task())

    def _update(self, request, partial):
        task = self.get_task()
        serializer = TaskUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        task = services.task_update(
            actor=request.user, task=task, data=dict(serializer.validated_data), request=request
        )
        return self.ok(task, _("Task updated"))

    @extend_schema(request=TaskUpdateSerializer, responses={200: TaskSerializer}, tags=["success-tasks"])
    def put(self, request, task_id):
        return self._update(request, partial=False)

    @extend_schema(request=TaskUpdateSerializer, responses={200: TaskSerializer}, tags=["success-tasks"])
    def patch(self, request, task_id):
        return self._update(request, partial=True)


class TaskStatusView(TaskAPIView):
    """`POST …/{task_id}/status` {status, result}: pending → in progress → done (result required) / cancelled."""

    required_perms = {"POST": CHANGE}

    @extend_schema(request=StatusSerializer, responses={200: TaskSerializer}, tags=["success-tasks"])
    def post(self, request, task_id):
        task = self.get_task()
        serializer = StatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.task_change_status(
            actor=request.user,
            task=task,
            status=serializer.validated_data["status"],
            result=serializer.validated_data.get("result", ""),
            request=request,
        )
        return self.ok(task, _("Task status changed"))


class TaskReassignView(TaskAPIView):
    """`POST …/{task_id}/reassign` {assigned_to} (leads and administrators)."""

    required_perms = {"POST": REASSIGN}

    @extend_schema(request=ReassignSerializer, responses={200: TaskSerializer}, tags=["success-tasks"])
    def post(self, request, task_id):
        task = self.get_task()
        serializer = ReassignSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        task = services.task_reassign(
            actor=request.user, task=task, assignee=serializer.validated_data["assigned_to"], request=request
        )
        return self.ok(task, _("Task reassigned"))


class TaskCommentsView(TaskAPIView):
    """`GET/POST …/{task_id}/comments`."""

    required_perms = {"GET": VIEW, "POST": CHANGE}

    @extend_schema(responses={200: CommentSerializer(many=True)}, tags=["success-tasks"])
    def get(self, request, task_id):
        task = self.get_task()
        comments = task.comments.select_related("author").order_by("created_at", "id")
        return api_response(CommentSerializer(comments, many=True).data)

    @extend_schema(request=CommentSerializer, responses={201: CommentSerializer}, tags=["success-tasks"])
    def post(self, request, task_id):
        task = self.get_task()
        serializer = CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = services.comment_add(
            actor=request.user, task=task, body=serializer.validated_data["body"], request=request
        )
        return api_response(CommentSerializer(comment).data, message=_("Comment added"), status=201)
