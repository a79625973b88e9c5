from django.urls import path

from customers.api import views

urlpatterns = [
    path("customers", views.CustomerListCreateView.as_view(), name="customer_list"),
    path("customers/search", views.CustomerSearchView.as_view(), name="customer_search"),
    path("customers/<int:customer_id>", views.CustomerDetailView.as_view(), name="customer_detail"),
    path("customers/<int:customer_id>/contacts", views.ContactListCreateView.as_view(), name="contact_list"),
    path(
        "customers/<int:customer_id>/contacts/<int:contact_id>",
        views.ContactDetailView.as_view(),
        name="contact_detail",
    ),
    path("customers/<int:customer_id>/tags", views.TagListCreateView.as_view(), name="tag_list"),
    path("customers/<int:customer_id>/tags/<int:tag_id>", views.TagDetailView.as_view(), name="tag_detail"),
    path("customers/<int:customer_id>/duplicates", views.CustomerDuplicatesView.as_view(), name="customer_duplicates"),
    path("customers/<int:customer_id>/merge", views.CustomerMergeView.as_view(), name="customer_merge"),
    path("customers/<int:customer_id>/shares", views.CustomerShareView.as_view(), name="customer_share"),
    path(
        "customers/<int:customer_id>/shares/<int:user_id>", views.CustomerUnshareView.as_view(), name="customer_unshare"
    ),
]
