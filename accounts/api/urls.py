from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/token", views.TokenObtainView.as_view(), name="token_obtain"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="token_refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="token_logout"),
    path("notifications", views.NotificationListView.as_view(), name="notification_list"),
    path("notifications/<int:notification_id>/read", views.NotificationReadView.as_view(), name="notification_read"),
]
