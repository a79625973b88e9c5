from django.urls import path

from health import views

app_name = "health"
urlpatterns = [
    path("models/", views.models_page, name="models"),
    path("models/train", views.models_train, name="models_train"),
    path("backtest/", views.backtest_page, name="backtest"),
    path("settings/", views.settings_page, name="settings"),
    path("customers/<int:customer_id>/calculate", views.customer_calculate, name="calculate"),
]
