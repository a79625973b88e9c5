"""Logins, logouts and failed logins go to the audit log."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts.models import User
from accounts.services import audit_record


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def _audit_login(sender, request, user, **kwargs):
    audit_record(action="crm.auth.login", actor=user, obj=user, request=request, tenant=user.tenant)


@receiver(user_logged_out, dispatch_uid="accounts.audit_logout")
def _audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action="crm.auth.logout", actor=user, obj=user, request=request, tenant=user.tenant)


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def _audit_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    user = User.objects.filter(username=username).select_related("tenant").first() if username else None
    audit_record(
        action="crm.auth.login_failed",
        actor=user,
        object_type="accounts.user",
        object_id=user.pk if user else "",
        object_repr=username,
        request=getattr(request, "_request", request),
        tenant=user.tenant if user else None,
    )
