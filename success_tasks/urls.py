from django.urls import path

from success_tasks import views

app_name = "success_tasks"

urlpatterns = [
    path("", views.board, name="board"),
    path("my-day/", views.my_day, name="my_day"),
    path("metrics/", views.metrics, name="metrics"),
    path("team/", views.team, name="team"),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/new/", views.rule_edit, name="rule_create"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("customer/<int:customer_pk>/new/", views.task_create, name="task_create"),
    path("<int:pk>/", views.task_detail, name="task_detail"),
    path("<int:pk>/move/", views.task_move, name="task_move"),
]
