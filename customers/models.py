"""Customers, their contacts and tags (PRD 3.2.1, 3.2.2, 3.2.5; table and column names as written there)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

from accounts.tenancy import TenantManager, TenantOwnedModel, TenantQuerySet, current_tenant
from crm_project.crypto import BlindIndexField, EncryptedCharField, refresh_blind_indexes
from customers.cache import customers_changed
from customers.choices import (
    ContactPointStatus,
    CustomerLevel,
    CustomerStatus,
    CustomerType,
    InfluenceLevel,
    TagType,
)
from customers.validators import validate_email, validate_mobile, validate_phone, validate_tag_name


class ChangeTrackingQuerySet(TenantQuerySet):
    """Bulk writes bypass model signals: they invalidate the cached list totals of the active tenant themselves."""

    def _changed(self):
        tenant = current_tenant()
        customers_changed(tenant.pk if tenant is not None else None)

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        self._changed()
        return rows

    def delete(self):
        result = super().delete()
        self._changed()
        return result

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        self._changed()
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        fields = list(fields)
        if any(f in CONTACT_BLIND_INDEXES for f in fields) and objs and hasattr(objs[0], "email_bidx"):
            # bulk_update skips pre_save: the blind indexes of changed contact details are refreshed here.
            for obj in objs:
                refresh_blind_indexes(obj)
            fields += [CONTACT_BLIND_INDEXES[f] for f in fields if f in CONTACT_BLIND_INDEXES]
        rows = super().bulk_update(objs, fields, *args, **kwargs)
        self._changed()
        return rows


class CustomerQuerySet(ChangeTrackingQuerySet):
    def alive(self):
        """Rows not soft-deleted: what every list, API and export shows."""
        return self.filter(deleted_at__isnull=True)


class Customer(TenantOwnedModel):
    """A customer company (or government body, or person) served by the tenant."""

    customer_code = models.CharField(_("customer code"), max_length=50, editable=False)
    customer_name = models.CharField(_("customer name"), max_length=200)
    customer_type = models.PositiveSmallIntegerField(
        _("customer type"), choices=CustomerType.choices, default=CustomerType.ENTERPRISE
    )
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    scale = models.CharField(_("scale"), max_length=50, blank=True)
    address = models.TextField(_("address"), blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    status = models.PositiveSmallIntegerField(
        _("status"), choices=CustomerStatus.choices, default=CustomerStatus.POTENTIAL
    )
    level = models.PositiveSmallIntegerField(_("level"), choices=CustomerLevel.choices, default=CustomerLevel.NORMAL)
    source = models.CharField(_("source"), max_length=50, blank=True)
    region = models.CharField(_("region"), max_length=50, blank=True)
    assigned_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer manager"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_customers",
        db_index=False,
    )
    health_score = models.DecimalField(_("health score"), max_digits=5, decimal_places=2, default=0, editable=False)
    ltv = models.DecimalField(_("lifetime value"), max_digits=15, decimal_places=2, default=0, editable=False)
    last_contact_date = models.DateTimeField(_("last contact"), null=True, blank=True, editable=False)
    next_renewal_date = models.DateField(_("next renewal"), null=True, blank=True, editable=False)
    # Derived keys for duplicate detection; `name_key` is NULL once deleted so the name can be reused.
    normalized_name = models.CharField(max_length=200, editable=False, db_index=True)
    name_key = models.CharField(max_length=200, null=True, editable=False)
    website_domain = models.CharField(max_length=200, blank=True, editable=False, db_index=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, editable=False, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)

    objects = TenantManager.from_queryset(CustomerQuerySet)()

    class Meta:
        db_table = "customers"
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer_code"], name="uk_customer_code"),
            models.UniqueConstraint(fields=["tenant", "name_key"], name="uk_customer_name_key"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status"], name="idx_tenant_status"),
            # The list: live rows of a tenant by status, sorted by health (count and page read only this index).
            models.Index(fields=["tenant", "deleted_at", "status", "health_score"], name="idx_customer_list"),
            models.Index(fields=["customer_type"], name="idx_customer_type"),
            models.Index(fields=["assigned_manager"], name="idx_assigned_manager"),
            models.Index(fields=["health_score"], name="idx_health_score"),
            models.Index(fields=["next_renewal_date"], name="idx_renewal_date"),
        ]
        permissions = [
            ("assign_customer", "Can reassign and share customers"),
            ("export_customer", "Can export customers"),
            ("import_customer", "Can import customers"),
            ("merge_customer", "Can merge duplicate customers"),
        ]

    def __str__(self) -> str:
        return self.customer_name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class CustomerUserObjectPermission(UserObjectPermissionBase):
    """Direct-FK guardian table: a customer shared with one user (fast to join in the visibility rule)."""

    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="user_shares")

    class Meta(UserObjectPermissionBase.Meta):
        db_table = "customer_user_shares"


class CustomerContact(TenantOwnedModel):
    """A person at the customer; at most one is the primary contact."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contacts"
    )
    contact_name = models.CharField(_("contact name"), max_length=100)
    position = models.CharField(_("position"), max_length=100, blank=True)
    department = models.CharField(_("department"), max_length=100, blank=True)
    # Encrypted at rest (crm_project.crypto); equality goes through the blind indexes below, never these columns.
    phone = EncryptedCharField(_("phone"), max_length=20, blank=True, validators=[validate_phone])
    mobile = EncryptedCharField(_("mobile"), max_length=20, blank=True, validators=[validate_mobile])
    email = EncryptedCharField(_("e-mail"), max_length=100, blank=True, validators=[validate_email])
    wechat = EncryptedCharField(_("WeChat"), max_length=100, blank=True)
    email_bidx = BlindIndexField(source="email", kind="email")
    mobile_bidx = BlindIndexField(source="mobile", kind="phone")
    phone_bidx = BlindIndexField(source="phone", kind="phone")
    is_primary = models.BooleanField(_("primary contact"), default=False)
    # 1 for the primary contact, NULL otherwise: the unique key then allows one primary per customer.
    primary_marker = models.PositiveSmallIntegerField(null=True, editable=False)
    is_decision_maker = models.BooleanField(_("decision maker"), default=False)
    influence_level = models.PositiveSmallIntegerField(
        _("influence"), choices=InfluenceLevel.choices, default=InfluenceLevel.LOW
    )
    last_contact_date = models.DateTimeField(_("last contact"), null=True, blank=True)
    contact_preference = models.CharField(_("contact preference"), max_length=50, blank=True)
    # Data quality (analytics): a bounced or wrong e-mail / mobile is marked, never silently kept as accurate.
    email_status = models.CharField(
        _("e-mail status"), max_length=10, choices=ContactPointStatus.choices, blank=True, default=""
    )
    mobile_status = models.CharField(
        _("mobile status"), max_length=10, choices=ContactPointStatus.choices, blank=True, default=""
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TenantManager.from_queryset(ChangeTrackingQuerySet)()

    class Meta:
        db_table = "customer_contacts"
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_primary", "id"]
        constraints = [models.UniqueConstraint(fields=["customer", "primary_marker"], name="uk_one_primary_contact")]
        # Unmasked phone, mobile, e-mail and WeChat (accounts.roles.CONTACT_DETAILS_PERMISSION).
        permissions = [("view_contact_details", "Can view contact details unmasked")]
        indexes = [
            models.Index(fields=["customer"], name="idx_customer_id"),
            models.Index(fields=["is_primary"], name="idx_is_primary"),
            models.Index(fields=["is_decision_maker"], name="idx_is_decision_maker"),
            models.Index(fields=["email_bidx"], name="idx_contact_email_bidx"),
            models.Index(fields=["mobile_bidx"], name="idx_contact_mobile_bidx"),
            models.Index(fields=["phone_bidx"], name="idx_contact_phone_bidx"),
        ]

    def __str__(self) -> str:
        return self.contact_name

    def save(self, *args, **kwargs):
        self.primary_marker = 1 if self.is_primary else None
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and set(update_fields) & set(CONTACT_BLIND_INDEXES):
            # A saved source field takes its blind index along.
            kwargs["update_fields"] = {*update_fields, *(CONTACT_BLIND_INDEXES[f] for f in update_fields
                                                         if f in CONTACT_BLIND_INDEXES)}  # fmt: skip
        super().save(*args, **kwargs)


# Encrypted source field -> its blind index.
CONTACT_BLIND_INDEXES = {"email": "email_bidx", "mobile": "mobile_bidx", "phone": "phone_bidx"}


class CustomerTag(TenantOwnedModel):
    """A label on a customer: manual, automatic (with a confidence) or system."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="tags")
    tag_name = models.CharField(_("tag"), max_length=100, validators=[validate_tag_name])
    tag_type = models.PositiveSmallIntegerField(_("tag type"), choices=TagType.choices, default=TagType.MANUAL)
    tag_category = models.CharField(_("category"), max_length=50, blank=True)
    tag_value = models.CharField(_("value"), max_length=200, blank=True)
    confidence = models.DecimalField(_("confidence"), max_digits=5, decimal_places=4, null=True, blank=True)
    # Where an automatic tag comes from ("health.churn", "communications.needs", "usage", "rules", ...).
    source = models.CharField(_("source"), max_length=50, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TenantManager.from_queryset(ChangeTrackingQuerySet)()

    def clean(self) -> None:
        """One spelling per tenant: a name that differs only in case from a tag the tenant uses takes that spelling;
        the customer must not carry it already (case-insensitively)."""
        super().clean()
        name = (self.tag_name or "").strip()
        if not name:
            return
        others = CustomerTag.objects.exclude(pk=self.pk) if self.pk else CustomerTag.objects.all()
        # No `exclude(tag_name=name)`: MariaDB's collation compares case-insensitively, SQLite does not.
        existing = others.filter(tag_name__iexact=name).order_by("pk").values_list("tag_name", flat=True).first()
        self.tag_name = existing or name
        if self.customer_id and others.filter(customer_id=self.customer_id, tag_name__iexact=name).exists():
            raise ValidationError({"tag_name": [_("This customer already has that tag.")]})

    class Meta:
        db_table = "customer_tags"
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["tag_name"]
        constraints = [models.UniqueConstraint(fields=["customer", "tag_name"], name="uk_customer_tag")]
        indexes = [
            models.Index(fields=["tenant", "customer"], name="idx_tag_tenant_customer"),
            models.Index(fields=["tag_type"], name="idx_tag_type"),
            models.Index(fields=["tag_category"], name="idx_tag_category"),
            models.Index(fields=["tenant", "tag_name"], name="idx_tag_tenant_name"),
        ]

    def __str__(self) -> str:
        return self.tag_name
