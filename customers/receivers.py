"""Any change to customers, contacts, tags or shares invalidates the cached list totals of the tenant."""

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from customers.cache import customers_changed
from customers.models import Customer, CustomerContact, CustomerTag, CustomerUserObjectPermission


def _changed(sender, instance, **kwargs):
    if isinstance(instance, CustomerUserObjectPermission):
        customers_changed(instance.content_object.tenant_id)
    else:
        customers_changed(instance.tenant_id)


for model in (Customer, CustomerContact, CustomerTag, CustomerUserObjectPermission):
    post_save.connect(_changed, sender=model, dispatch_uid=f"customers.count.save.{model.__name__}")
    post_delete.connect(_changed, sender=model, dispatch_uid=f"customers.count.delete.{model.__name__}")


def _user_changed(sender, instance, update_fields=None, **kwargs):
    # List pages show the manager's name: a renamed or deactivated user invalidates the tenant's cached pages.
    if update_fields is None or set(update_fields) != {"last_login"}:
        customers_changed(instance.tenant_id)


post_save.connect(_user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="customers.count.user")
