"""Receivers of the analytics app (connected from AnalyticsConfig.ready())."""

from __future__ import annotations

from django.db.models.signals import pre_save
from django.dispatch import receiver

from customers.models import CustomerContact


@receiver(pre_save, sender=CustomerContact, dispatch_uid="analytics_reset_accuracy_marks")
def reset_accuracy_marks(sender, instance: CustomerContact, raw=False, **kwargs) -> None:
    """A bounced / wrong mark belongs to the address it was set on: editing the e-mail or mobile clears it."""
    if raw or not instance.pk or not (instance.email_status or instance.mobile_status):
        return  # the common case costs no query
    stored = CustomerContact.objects.filter(pk=instance.pk).values("email", "mobile").first()
    if stored is None:
        return
    if instance.email_status and stored["email"] != instance.email:
        instance.email_status = ""
    if instance.mobile_status and stored["mobile"] != instance.mobile:
        instance.mobile_status = ""
