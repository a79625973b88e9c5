"""Portal URLs (mounted at /portal/): the customer-facing pages (namespace `portal`) and the staff pages that
manage it (namespace `portal_staff`, under /portal/staff/, staff sign-in)."""

from django.urls import include, path

from portal import staff_views, views

public = [
    path("login/", views.login, name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("logout/", views.logout, name="logout"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("set-password/<str:token>/", views.set_password, name="set_password"),
    path("", views.home, name="home"),
    path("tickets/", views.tickets, name="tickets"),
    path("tickets/<int:ticket_id>/", views.ticket_detail, name="ticket_detail"),
    path("requests/new/", views.request_types, name="request_types"),
    path("requests/new/<str:type_key>/", views.request_new, name="request_new"),
    path("bills/", views.bills, name="bills"),
    path("bills/<int:invoice_id>/pdf/", views.bill_pdf, name="bill_pdf"),
    path("reports/", views.reports, name="reports"),
    path("reports/<int:report_id>/download/", views.report_download, name="report_download"),
    path("feedback/", views.feedback, name="feedback"),
    path("help/", views.kb, name="kb"),
    path("help/articles/<int:article_id>/", views.kb_article, name="kb_article"),
    path("help/diagnose/", views.diagnose, name="diagnose"),
    path("help/diagnose/<int:checklist_id>/", views.diagnose_detail, name="diagnose_detail"),
    path("usage/", views.usage, name="usage"),
    path("plan/", views.plan, name="plan"),
    path("plan/goals/<int:goal_id>/comment/", views.goal_comment, name="goal_comment"),
    path("plan/milestones/<int:milestone_id>/done/", views.milestone_done, name="milestone_done"),
    path("security/", views.security, name="security"),
]

staff = [
    path("customers/<int:customer_id>/invite/", staff_views.invite, name="invite"),
    path("customers/<int:customer_id>/accounts/<int:account_id>/end/", staff_views.deactivate, name="deactivate"),
    path("customers/<int:customer_id>/message/", staff_views.message, name="message"),
    path("customers/<int:customer_id>/goals/new/", staff_views.goal_edit, name="goal_create"),
    path("customers/<int:customer_id>/goals/<int:goal_id>/", staff_views.goal_edit, name="goal_edit"),
    path("customers/<int:customer_id>/goals/<int:goal_id>/milestones/", staff_views.milestone_add,
         name="milestone_add"),
    path("customers/<int:customer_id>/goals/<int:goal_id>/comment/", staff_views.goal_comment, name="goal_comment"),
    path("customers/<int:customer_id>/milestones/<int:milestone_id>/done/", staff_views.milestone_toggle,
         name="milestone_toggle"),
    path("kb/", staff_views.kb_list, name="kb_list"),
    path("kb/new/", staff_views.kb_edit, name="kb_create"),
    path("kb/<int:article_id>/", staff_views.kb_edit, name="kb_edit"),
    path("kb/<int:article_id>/publish/", staff_views.kb_publish, name="kb_publish"),
    path("kb/categories/", staff_views.category_list, name="category_list"),
    path("kb/categories/new/", staff_views.category_edit, name="category_create"),
    path("kb/categories/<int:category_id>/", staff_views.category_edit, name="category_edit"),
    path("kb/checklists/", staff_views.checklist_list, name="checklist_list"),
    path("kb/checklists/new/", staff_views.checklist_edit, name="checklist_create"),
    path("kb/checklists/<int:checklist_id>/", staff_views.checklist_edit, name="checklist_edit"),
    path("kb/checklists/<int:checklist_id>/publish/", staff_views.checklist_publish, name="checklist_publish"),
]  # fmt: skip

urlpatterns = [
    path("staff/", include((staff, "portal_staff"))),
    path("", include((public, "portal"))),
]
