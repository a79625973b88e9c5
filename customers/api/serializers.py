"""Customer API shapes, exactly as PRD 4.1.1 writes them (ids as `customer_id`, `contact_id`; flags as 0/1)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from accounts.roles import MASK, can_see_contact_details, masked_money
from crm_project.api.mixins import RefuseReadOnlyMixin
from customers import services
from customers.choices import CustomerLevel, CustomerStatus, CustomerType, InfluenceLevel, TagType
from customers.masking import mask_contact_dict
from customers.validators import validate_email, validate_mobile, validate_phone, validate_tag_name

# Fields a client may never set: refused with a 400 naming them, never stored.
READ_ONLY_CUSTOMER_FIELDS = (
    "customer_id",
    "tenant",
    "tenant_id",
    "customer_code",
    "health_score",
    "ltv",
    "created_at",
    "updated_at",
    "deleted_at",
    "last_contact_date",
    "next_renewal_date",
)


@extend_schema_field(OpenApiTypes.INT)
class FlagField(serializers.Field):
    """The PRD's TINYINT flags: accepts 0/1/true/false, answers 0 or 1."""

    default_error_messages = {"invalid": _("Must be 0 or 1.")}

    def to_internal_value(self, data):
        if data in (1, "1", True, "true", "True"):
            return True
        if data in (0, "0", False, "false", "False"):
            return False
        self.fail("invalid")

    def to_representation(self, value):
        return 1 if value else 0


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string", "enum": [MASK]}]})
class MaskedMoneyField(serializers.Field):
    """Money (`ltv`) as a number, or `***` for callers without the amount permission (accounts.roles)."""

    def to_representation(self, value):
        request = self.context.get("request")
        shown = masked_money(value, request.user if request is not None else None)
        return shown if shown == MASK else float(shown)


class ManagerSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="get_display_name")


class ManagerDetailSerializer(ManagerSerializer):
    phone = serializers.CharField()


class ContactSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    """A contact as read and written by the API (validation rules mirror the model's validators)."""

    refused_fields = ("contact_id", "customer_id", "tenant", "created_at", "updated_at")

    contact_id = serializers.IntegerField(source="pk", read_only=True)
    contact_name = serializers.CharField(max_length=100)
    position = serializers.CharField(max_length=100, required=False, allow_blank=True)
    department = serializers.CharField(max_length=100, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, validators=[validate_phone])
    mobile = serializers.CharField(max_length=20, required=False, allow_blank=True, validators=[validate_mobile])
    email = serializers.CharField(max_length=100, required=False, allow_blank=True, validators=[validate_email])
    wechat = serializers.CharField(max_length=100, required=False, allow_blank=True)
    is_primary = FlagField(required=False)
    is_decision_maker = FlagField(required=False)
    influence_level = serializers.ChoiceField(choices=InfluenceLevel.choices, required=False)
    last_contact_date = serializers.DateTimeField(required=False, allow_null=True)
    contact_preference = serializers.CharField(max_length=50, required=False, allow_blank=True)

    def to_representation(self, instance):
        """Phone, mobile, e-mail and WeChat masked unless the caller may see contact details (customers.masking)."""
        data = super().to_representation(instance)
        request = self.context.get("request")
        return mask_contact_dict(data, visible=can_see_contact_details(getattr(request, "user", None)))


class TagSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    refused_fields = ("tag_id", "customer_id", "tenant", "created_by", "created_at", "updated_at")

    tag_id = serializers.IntegerField(source="pk", read_only=True)
    tag_name = serializers.CharField(max_length=100, validators=[validate_tag_name])
    tag_type = serializers.ChoiceField(choices=TagType.choices, required=False)
    tag_category = serializers.CharField(max_length=50, required=False, allow_blank=True)
    tag_value = serializers.CharField(max_length=200, required=False, allow_blank=True)
    confidence = serializers.DecimalField(
        max_digits=5, decimal_places=4, min_value=0, max_value=1, required=False, allow_null=True
    )


class ManagerIdField(serializers.IntegerField):
    """`assigned_manager_id`: an active user of the caller's tenant (anything else reads as not found)."""

    def to_internal_value(self, data):
        if data is None:
            return None
        pk = super().to_internal_value(data)
        tenant = self.context["request"].user.tenant
        user = User.objects.filter(pk=pk, tenant=tenant, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(_("No active user with this id in your tenant."))
        return user


class CustomerWriteSerializer(RefuseReadOnlyMixin, serializers.Serializer):
    """Body of create (with nested contacts and tags) and of full/partial update (without them)."""

    refused_fields = (*READ_ONLY_CUSTOMER_FIELDS, "status")
    refused_messages = {"status": services.status_read_only_message}

    customer_name = serializers.CharField(max_length=200)
    customer_type = serializers.ChoiceField(choices=CustomerType.choices, required=False)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    scale = serializers.CharField(max_length=50, required=False, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True)
    website = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    level = serializers.ChoiceField(choices=CustomerLevel.choices, required=False)
    source = serializers.CharField(max_length=50, required=False, allow_blank=True)
    region = serializers.CharField(max_length=50, required=False, allow_blank=True)
    assigned_manager_id = ManagerIdField(required=False, allow_null=True)
    contacts = ContactSerializer(many=True, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100, validators=[validate_tag_name]), required=False
    )

    def validate_contacts(self, contacts):
        try:
            services.check_one_primary(contacts)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["contacts"]) from None
        return contacts

    def service_data(self) -> dict:
        """Validated fields in the names the services use."""
        data = dict(self.validated_data)
        data.pop("contacts", None)
        data.pop("tags", None)
        if "assigned_manager_id" in data:
            data["assigned_manager"] = data.pop("assigned_manager_id")
        return data


class CustomerCreatedSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(source="pk")
    customer_code = serializers.CharField()
    customer_name = serializers.CharField()
    status = serializers.IntegerField()
    health_score = serializers.DecimalField(max_digits=5, decimal_places=2)
    created_at = serializers.DateTimeField()


class CustomerListItemSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(source="pk")
    customer_code = serializers.CharField()
    customer_name = serializers.CharField()
    customer_type = serializers.IntegerField()
    industry = serializers.CharField()
    level = serializers.IntegerField()
    status = serializers.IntegerField()
    health_score = serializers.DecimalField(max_digits=5, decimal_places=2)
    ltv = MaskedMoneyField()
    assigned_manager = ManagerSerializer(allow_null=True)
    last_contact_date = serializers.DateTimeField(allow_null=True)
    next_renewal_date = serializers.DateField(allow_null=True)


def _local(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def customer_list_item(customer, *, see_money: bool) -> dict:
    """One list row without serializer machinery (the list endpoint's hot path); shape of CustomerListItemSerializer.

    `see_money`: accounts.roles.can_see_amounts(user), else `ltv` is masked."""
    manager = customer.assigned_manager
    return {
        "customer_id": customer.pk,
        "customer_code": customer.customer_code,
        "customer_name": customer.customer_name,
        "customer_type": customer.customer_type,
        "industry": customer.industry,
        "level": customer.level,
        "status": customer.status,
        "health_score": float(customer.health_score),
        "ltv": float(customer.ltv) if see_money else MASK,
        "assigned_manager": {"id": manager.pk, "name": manager.get_display_name()} if manager else None,
        "last_contact_date": _local(customer.last_contact_date),
        "next_renewal_date": customer.next_renewal_date.isoformat() if customer.next_renewal_date else None,
    }


class CustomerInfoSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(source="pk")
    customer_code = serializers.CharField()
    customer_name = serializers.CharField()
    customer_type = serializers.IntegerField()
    industry = serializers.CharField()
    scale = serializers.CharField()
    address = serializers.CharField()
    website = serializers.CharField()
    description = serializers.CharField()
    status = serializers.IntegerField()
    level = serializers.IntegerField()
    source = serializers.CharField()
    region = serializers.CharField()
    health_score = serializers.DecimalField(max_digits=5, decimal_places=2)
    ltv = MaskedMoneyField()
    assigned_manager = ManagerDetailSerializer(allow_null=True)
    last_contact_date = serializers.DateTimeField(allow_null=True)
    next_renewal_date = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CustomerDetailSerializer(serializers.Serializer):
    """`{customer_info, contacts, tags}` (PRD 4.1.1 "获取客户详情")."""

    customer_info = CustomerInfoSerializer(source="*")
    contacts = ContactSerializer(many=True)
    tags = TagSerializer(many=True)


class RangeSerializer(serializers.Serializer):
    min = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, min_value=0, max_value=100)
    max = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, min_value=0, max_value=100)


class DateRangeSerializer(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)


class SearchFiltersSerializer(serializers.Serializer):
    status = serializers.ListField(child=serializers.ChoiceField(choices=CustomerStatus.choices), required=False)
    level = serializers.ListField(child=serializers.ChoiceField(choices=CustomerLevel.choices), required=False)
    customer_type = serializers.ListField(child=serializers.ChoiceField(choices=CustomerType.choices), required=False)
    industry = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    health_score_range = RangeSerializer(required=False)
    assigned_manager_id = serializers.IntegerField(required=False)
    created_date_range = DateRangeSerializer(required=False)
    tag = serializers.CharField(max_length=100, required=False)
    q = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SearchSortSerializer(serializers.Serializer):
    field = serializers.CharField()
    direction = serializers.ChoiceField(choices=["asc", "desc"], default="asc")


class SearchPaginationSerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    size = serializers.IntegerField(min_value=1, default=20)


class CustomerSearchSerializer(serializers.Serializer):
    """The PRD's JSON query body (4.2.1)."""

    filters = SearchFiltersSerializer(required=False)
    sort = SearchSortSerializer(required=False)
    pagination = SearchPaginationSerializer(required=False)


class ShareSerializer(serializers.Serializer):
    user_id = ManagerIdField()


class DuplicateCandidateSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(source="customer.pk")
    customer_code = serializers.CharField(source="customer.customer_code")
    customer_name = serializers.CharField(source="customer.customer_name")
    reasons = serializers.ListField(child=serializers.CharField())


class MergeSerializer(serializers.Serializer):
    """`{"duplicate_id": N}`: the customer folded into this one (and optionally which of its fields win)."""

    duplicate_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    take_from_duplicate = serializers.ListField(
        child=serializers.ChoiceField(choices=[(name, name) for name in services.CUSTOMER_FIELDS]),
        required=False,
        default=list,
    )
