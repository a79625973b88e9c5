from django.urls import path

from contracts import views

app_name = "contracts"

urlpatterns = [
    path("", views.contract_list, name="contract_list"),
    path("export/", views.contract_export, name="contract_export"),
    path("new/", views.contract_create, name="contract_create"),
    path("approvals/", views.approval_queue, name="approval_queue"),
    path("renewals/", views.renewal_pipeline, name="renewal_pipeline"),
    path("renewals/export/", views.renewal_export, name="renewal_export"),
    path("changes/<int:pk>/decide/", views.change_request_decide, name="change_request_decide"),
    path("<int:pk>/", views.contract_detail, name="contract_detail"),
    path("<int:pk>/edit/", views.contract_edit, name="contract_edit"),
    path("<int:pk>/sign/", views.contract_sign, name="contract_sign"),
    path("<int:pk>/terminate/", views.contract_terminate, name="contract_terminate"),
    path("<int:pk>/renew/", views.contract_renew, name="contract_renew"),
    path("<int:pk>/changes/new/", views.change_request_create, name="change_request_create"),
    path("<int:pk>/versions/<int:version>/diff/", views.version_diff, name="version_diff"),
    path("<int:pk>/document/", views.contract_document, name="contract_document"),
    path("<int:pk>/generate/", views.contract_generate, name="contract_generate"),
    path("<int:pk>/milestones/", views.milestone_save, name="milestone_save"),
    path("<int:pk>/milestones/<int:milestone_pk>/done/", views.milestone_done, name="milestone_done"),
    path("<int:pk>/sla/", views.sla_save, name="sla_save"),
    path("<int:pk>/invoices/", views.invoice_save, name="invoice_save"),
    path("<int:pk>/payments/", views.payment_save, name="payment_save"),
]
