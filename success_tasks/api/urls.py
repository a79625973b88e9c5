"""Included BEFORE customers' API urls: `customers/success-tasks` is a path of its own, never a customer id."""

from django.urls import path

from success_tasks.api import views

urlpatterns = [
    path("customers/success-tasks", views.TaskListView.as_view(), name="success_task_list"),
    path("customers/success-tasks/<int:task_id>", views.TaskDetailView.as_view(), name="success_task_detail"),
    path("customers/success-tasks/<int:task_id>/status", views.TaskStatusView.as_view(), name="success_task_status"),
    path(
        "customers/success-tasks/<int:task_id>/reassign",
        views.TaskReassignView.as_view(),
        name="success_task_reassign",
    ),
    path(
        "customers/success-tasks/<int:task_id>/comments",
        views.TaskCommentsView.as_view(),
        name="success_task_comments",
    ),
    path(
        "customers/<int:customer_id>/success-tasks",
        views.CustomerTaskListCreateView.as_view(),
        name="customer_success_tasks",
    ),
]
