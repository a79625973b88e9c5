from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views, views_auth

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="registration/password_change_done.html"),
        name="password_change_done",
    ),
    path("login/verify/", views_auth.login_verify, name="login_verify"),
    path("step-up/", views_auth.step_up, name="step_up"),
    path("two-factor/", views_auth.two_factor, name="two_factor"),
    path("two-factor/recovery-codes/", views_auth.recovery_codes_regenerate, name="recovery_codes_regenerate"),
    path("two-factor/disable/", views_auth.two_factor_disable, name="two_factor_disable"),
    path("sso/<slug:slug>/login/", views_auth.oidc_login, name="oidc_login"),
    path("sso/callback/", views_auth.oidc_callback, name="oidc_callback"),
    path("api-tokens/", views_auth.api_token_list, name="api_tokens"),
    path("api-tokens/<int:pk>/revoke/", views_auth.api_token_revoke, name="api_token_revoke"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    path("notifications/read-all/", views.notification_read_all, name="notifications_read_all"),
    path("audit/", views.audit_log, name="audit_log"),
    path("compliance/", views.compliance_report, name="compliance_report"),
    path("jobs/", views.job_runs, name="job_runs"),
]
