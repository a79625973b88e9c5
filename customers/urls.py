from django.urls import path

from customers import views, views_io

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="customer_list"),
    path("bulk/", views.customer_bulk, name="customer_bulk"),
    path("new/", views.customer_create, name="customer_create"),
    path("<int:pk>/", views.customer_detail, name="customer_detail"),
    path("<int:pk>/edit/", views.customer_edit, name="customer_edit"),
    path("<int:pk>/delete/", views.customer_delete, name="customer_delete"),
    path("<int:pk>/tags/", views.tag_add, name="tag_add"),
    path("<int:pk>/tags/<int:tag_pk>/remove/", views.tag_remove, name="tag_remove"),
    path("<int:pk>/share/", views.customer_share, name="customer_share"),
    path("<int:pk>/duplicates/", views.customer_duplicates, name="customer_duplicates"),
    path("<int:pk>/merge/<int:other_pk>/", views.customer_merge, name="customer_merge"),
    path("export/", views_io.customer_export, name="customer_export"),
    path("import/", views_io.customer_import, name="customer_import"),
    path("import/<str:token>/", views_io.customer_import_preview, name="customer_import_preview"),
    path("import/<str:token>/errors.csv", views_io.customer_import_errors, name="customer_import_errors"),
]
