from django.urls import path

from contracts.api import views

urlpatterns = [
    path("contracts", views.ContractListCreateView.as_view(), name="contract_list"),
    path("contracts/<int:contract_id>", views.ContractDetailView.as_view(), name="contract_detail"),
    path("contracts/<int:contract_id>/sign", views.ContractSignView.as_view(), name="contract_sign"),
    path("contracts/<int:contract_id>/terminate", views.ContractTerminateView.as_view(), name="contract_terminate"),
    path("contracts/<int:contract_id>/renew", views.ContractRenewView.as_view(), name="contract_renew"),
    path("contracts/<int:contract_id>/preview", views.ContractPreviewView.as_view(), name="contract_preview"),
    path(
        "contracts/<int:contract_id>/change-requests",
        views.ChangeRequestListCreateView.as_view(),
        name="change_request_list",
    ),
    path(
        "change-requests/<int:change_id>/approve",
        views.ChangeRequestDecisionView.as_view(decision="approve"),
        name="change_request_approve",
    ),
    path(
        "change-requests/<int:change_id>/reject",
        views.ChangeRequestDecisionView.as_view(decision="reject"),
        name="change_request_reject",
    ),
    path("contracts/<int:contract_id>/sla-bindings", views.SlaBindingListView.as_view(), name="sla_binding_list"),
    path(
        "contracts/<int:contract_id>/sla-bindings/<str:priority>",
        views.SlaBindingDetailView.as_view(),
        name="sla_binding_detail",
    ),
    path("contracts/<int:contract_id>/milestones", views.MilestoneListCreateView.as_view(), name="milestone_list"),
    path(
        "contracts/<int:contract_id>/milestones/<int:milestone_id>",
        views.MilestoneDetailView.as_view(),
        name="milestone_detail",
    ),
    path("contracts/<int:contract_id>/invoices", views.InvoiceListCreateView.as_view(), name="invoice_list"),
    path("invoices/<int:invoice_id>/payments", views.PaymentCreateView.as_view(), name="payment_create"),
    path("customers/<int:customer_id>/contracts", views.CustomerContractsView.as_view(), name="customer_contracts"),
    path("integrations/payments", views.IntegrationPaymentsView.as_view(), name="integration_payments"),
]
