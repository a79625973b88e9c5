"""Logins, logouts and failed logins go to the audit log."""

from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from accounts.backends import permissions_changed
from accounts.models import User
from accounts.services import audit_record, user_tokens_revoke


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


# Any change of roles or permissions invalidates every cached permission set and role.
m2m_changed.connect(permissions_changed, sender=User.groups.through, dispatch_uid="accounts.perm_groups")
m2m_changed.connect(permissions_changed, sender=User.user_permissions.through, dispatch_uid="accounts.perm_user")
m2m_changed.connect(permissions_changed, sender=Group.permissions.through, dispatch_uid="accounts.perm_group")


@receiver(post_save, sender=User, dispatch_uid="accounts.perm_user_saved")
def _user_saved(sender, instance, update_fields=None, **kwargs):
    # A login only stamps last_login; anything else (is_active, is_superuser) may change what the user can do.
    if update_fields is None or set(update_fields) != {"last_login"}:
        permissions_changed()


@receiver(post_save, sender=User, dispatch_uid="accounts.revoke_tokens")
def _revoke_tokens(sender, instance, created=False, update_fields=None, **kwargs):
    # A new password (change, reset, admin, changepassword) or a deactivation ends every session token of the user.
    # `_password` is set by set_password() until the save completes; it costs no query to look at.
    if created or (update_fields is not None and set(update_fields) == {"last_login"}):
        return
    if getattr(instance, "_password", None) is not None or not instance.is_active:
        user_tokens_revoke(user=instance)


post_delete.connect(permissions_changed, sender=Group, dispatch_uid="accounts.perm_group_deleted")
