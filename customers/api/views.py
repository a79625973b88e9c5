"""Customer REST endpoints (PRD 4.1.1, 4.2.1). Reads start from the visibility selector; writes call services."""

from __future__ import annotations

from contextlib import contextmanager

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.models import User
from accounts.roles import can_see_amounts
from accounts.stepup import check_api_step_up
from crm_project.api import codes
from crm_project.api.envelope import api_response
from crm_project.api.exceptions import ApiError
from crm_project.api.pagination import PageSizePagination, paginated
from crm_project.api.permissions import RolePermission
from crm_project.api.sorting import SortFilter, parse_sort
from crm_project.audit import CONTACT_VIEWED, CUSTOMER_VIEWED, record_access
from customers import services
from customers.api.serializers import (
    ContactSerializer,
    CustomerCreatedSerializer,
    CustomerDetailSerializer,
    CustomerListItemSerializer,
    CustomerSearchSerializer,
    CustomerWriteSerializer,
    DuplicateCandidateSerializer,
    MergeSerializer,
    ShareSerializer,
    TagSerializer,
    customer_list_item,
)
from customers.filtersets import CustomerFilterSet
from customers.masking import record_unmasked
from customers.models import Customer, CustomerContact, CustomerTag
from customers.selectors import (
    CachedList,
    customer_get_visible,
    customer_list_queryset,
    customers_visible_to,
    page_in_order,
)

VIEW = "customers.view_customer"
CHANGE = "customers.change_customer"

SORT_FIELDS = {
    "health_score": "health_score",
    "customer_name": "customer_name",
    "customer_code": "customer_code",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "level": "level",
    "status": "status",
    "ltv": "ltv",
    "next_renewal_date": "next_renewal_date",
    "last_contact_date": "last_contact_date",
}


def visible_sort_fields(user) -> dict[str, str]:
    """Sorting by a masked figure would reveal it: `ltv` only for users who may see money."""
    if can_see_amounts(user):
        return dict(SORT_FIELDS)
    return {key: value for key, value in SORT_FIELDS.items() if key != "ltv"}


LIST_COLUMNS = (
    "customer_code",
    "customer_name",
    "customer_type",
    "industry",
    "level",
    "status",
    "health_score",
    "ltv",
    "last_contact_date",
    "next_renewal_date",
    "created_at",
    "tenant_id",
    "assigned_manager__display_name",
    "assigned_manager__first_name",
    "assigned_manager__last_name",
    "assigned_manager__username",
)
_CONTACT_KEYS = ("contacts", "contact_name", "phone", "mobile", "email", "wechat", "is_primary")


class CustomerAPIView(GenericAPIView):
    """Common ground: permissions, 40001 for an unknown or invisible customer, 40003 for contact errors."""

    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {
        "GET": VIEW,
        "POST": "customers.add_customer",
        "PUT": CHANGE,
        "PATCH": CHANGE,
        "DELETE": "customers.delete_customer",
    }
    not_found_code = codes.CUSTOMER_NOT_FOUND
    filter_backends: list = []
    pagination_class = None

    def validation_error_code(self, errors: dict) -> int:
        if any(key.split("[")[0].split(".")[0] in _CONTACT_KEYS for key in errors):
            return codes.CONTACT_INVALID
        return codes.VALIDATION_ERROR

    def get_customer(self) -> Customer:
        customer = customer_get_visible(self.request.user, self.kwargs["customer_id"])
        if customer is None:
            raise NotFound(_("Customer not found."))
        return customer

    @contextmanager
    def duplicate_as_conflict(self):
        try:
            yield
        except services.CustomerDuplicate as exc:
            existing = exc.existing
            if customers_visible_to(self.request.user).filter(pk=existing.pk).exists():
                message = _("A customer named '%(name)s' already exists.") % {"name": existing.customer_name}
                data = {"customer_id": existing.pk, "customer_code": existing.customer_code}
            else:
                # Say that it exists, but not which one: the caller may not see it.
                message = _("A customer with this name already exists; ask your lead to share it with you.")
                data = None
            raise ApiError(codes.CUSTOMER_DUPLICATE, message, status_code=409, data=data) from None


class CustomerListCreateView(CustomerAPIView):
    """`GET /customers` (filters, sort, page/size) and `POST /customers` (with nested contacts)."""

    filter_backends = [DjangoFilterBackend, SortFilter]
    filterset_class = CustomerFilterSet
    queryset = Customer.objects.none()  # for the schema generator; requests use get_queryset()

    @property
    def sort_fields(self) -> dict[str, str]:
        user = getattr(getattr(self, "request", None), "user", None)
        if user is None or not user.is_authenticated:  # the schema generator: document every field
            return dict(SORT_FIELDS)
        return visible_sort_fields(user)

    default_sort = ["-created_at"]
    pagination_class = PageSizePagination

    def get_queryset(self):
        return customer_list_queryset(self.request.user).only(*LIST_COLUMNS)

    def count_queryset(self, queryset) -> int:
        return self.cached.count(queryset)

    @extend_schema(responses={200: CustomerListItemSerializer(many=True)}, tags=["customers"])
    def get(self, request):
        params = dict(request.query_params.items())
        filters = {key: value for key, value in params.items() if key in self.filterset_class.base_filters}
        # One Redis round trip: the tenant's version, the page and the filter's total (customers.cache).
        self.cached = CachedList(user=request.user, params=params, filters=filters)
        if self.cached.page is not None:
            return Response(self.cached.page)
        # Deferred join: the page's ids come from the list index alone (LIMIT/OFFSET over index entries, the
        # total from the cache), then only those 20 rows are read. Invalid parameters raise here, before anything
        # is cached.
        ordered = self.filter_queryset(self.get_queryset())
        ids = self.paginate_queryset(ordered.values_list("pk", flat=True))
        # The hot path: plain dicts, same shape as CustomerListItemSerializer (which documents it).
        see_money = can_see_amounts(request.user)
        rows = [
            customer_list_item(customer, see_money=see_money) for customer in page_in_order(self.get_queryset(), ids)
        ]
        data = self.get_paginated_response(rows).data
        self.cached.store_page(data)
        return Response(data)

    @extend_schema(
        request=CustomerWriteSerializer, responses={201: CustomerCreatedSerializer}, tags=["customers"], filters=False
    )
    def post(self, request):
        serializer = CustomerWriteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        with self.duplicate_as_conflict():
            customer = services.customer_create(
                actor=request.user,
                data=serializer.service_data(),
                contacts=serializer.validated_data.get("contacts", []),
                tags=serializer.validated_data.get("tags", []),
                request=request,
            )
        return api_response(CustomerCreatedSerializer(customer).data, message=_("Customer created"), status=201)


class CustomerSearchView(CustomerAPIView):
    """`POST /customers/search` with the PRD's JSON body; answers like the list."""

    required_perms = {"POST": VIEW}

    @extend_schema(
        request=CustomerSearchSerializer, responses={200: paginated(CustomerListItemSerializer)}, tags=["customers"]
    )
    def post(self, request):
        body = CustomerSearchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        filters = body.validated_data.get("filters", {})
        data = {}
        for name in ("status", "level", "customer_type"):
            if filters.get(name):
                data[name] = ",".join(str(value) for value in filters[name])
        for name in ("assigned_manager_id", "tag", "q"):
            if filters.get(name) not in (None, ""):
                data[name] = filters[name]
        score = filters.get("health_score_range", {})
        if "min" in score:
            data["health_score_min"] = score["min"]
        if "max" in score:
            data["health_score_max"] = score["max"]
        created = filters.get("created_date_range", {})
        if "start" in created:
            data["created_from"] = created["start"]
        if "end" in created:
            data["created_to"] = created["end"]
        filterset = CustomerFilterSet(data, queryset=customer_list_queryset(request.user))
        if not filterset.is_valid():
            raise ValidationError({f"filters.{key}": value for key, value in filterset.errors.items()})
        queryset = filterset.qs
        if filters.get("industry"):
            queryset = queryset.filter(industry__in=filters["industry"])
        sort = body.validated_data.get("sort")
        raw_sort = f"{sort['field']},{sort['direction']}" if sort else None
        try:
            ordering = parse_sort(raw_sort, visible_sort_fields(request.user), ["-created_at"])
        except ValidationError as exc:
            raise ValidationError({"sort.field": exc.detail["sort"]}) from None
        queryset = queryset.order_by(*ordering, "-pk" if ordering[0].startswith("-") else "pk")
        paging = body.validated_data.get("pagination", {})
        paginator = PageSizePagination()
        items = paginator.paginate(queryset, page=paging.get("page", 1), size=paging.get("size", 20))
        return paginator.get_paginated_response(
            CustomerListItemSerializer(items, many=True, context={"request": request}).data
        )


class CustomerUpdateSerializer(CustomerWriteSerializer):
    """Update body: contacts and tags are changed through their own sub-resources."""

    refused_fields = (*CustomerWriteSerializer.refused_fields, "contacts", "tags")
    contacts = None
    tags = None


class CustomerDetailView(CustomerAPIView):
    """`GET/PUT/PATCH/DELETE /customers/{customer_id}` (DELETE is a soft delete)."""

    @extend_schema(responses={200: CustomerDetailSerializer}, tags=["customers"])
    def get(self, request, customer_id):
        customer = self.get_customer()
        record_access(request, customer, CUSTOMER_VIEWED)
        record_unmasked(user=request.user, customer=customer, contacts=customer.contacts.all(), surface="api",
                        request=request)  # fmt: skip
        return api_response(CustomerDetailSerializer(customer, context={"request": request}).data)

    def _update(self, request, partial: bool):
        customer = self.get_customer()
        serializer = CustomerUpdateSerializer(data=request.data, partial=partial, context={"request": request})
        serializer.is_valid(raise_exception=True)
        with self.duplicate_as_conflict():
            services.customer_update(
                actor=request.user, customer=customer, data=serializer.service_data(), request=request
            )
        return api_response(
            CustomerDetailSerializer(self.get_customer(), context={"request": request}).data,
            message=_("Customer updated"),
        )

    @extend_schema(request=CustomerUpdateSerializer, responses={200: CustomerDetailSerializer}, tags=["customers"])
    def put(self, request, customer_id):
        return self._update(request, partial=False)

    @extend_schema(request=CustomerUpdateSerializer, responses={200: CustomerDetailSerializer}, tags=["customers"])
    def patch(self, request, customer_id):
        return self._update(request, partial=True)

    @extend_schema(responses={200: None}, tags=["customers"])
    def delete(self, request, customer_id):
        customer = self.get_customer()
        check_api_step_up(request)
        services.customer_delete(actor=request.user, customer=customer, request=request)
        return api_response(None, message=_("Customer deleted"))


class SubResourceView(CustomerAPIView):
    """Contacts and tags: reading needs view, every write needs change on the (visible) customer."""

    required_perms = {"GET": VIEW, "POST": CHANGE, "PUT": CHANGE, "PATCH": CHANGE, "DELETE": CHANGE}


class ContactListCreateView(SubResourceView):
    def validation_error_code(self, errors):
        return codes.CONTACT_INVALID

    @extend_schema(responses={200: ContactSerializer(many=True)}, tags=["contacts"])
    def get(self, request, customer_id):
        customer = self.get_customer()
        contacts = list(customer.contacts.all())
        record_unmasked(user=request.user, customer=customer, contacts=contacts, surface="api", request=request)
        return api_response(ContactSerializer(contacts, many=True, context={"request": request}).data)

    @extend_schema(request=ContactSerializer, responses={201: ContactSerializer}, tags=["contacts"])
    def post(self, request, customer_id):
        customer = self.get_customer()
        serializer = ContactSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = services.contact_create(
            actor=request.user, customer=customer, data=serializer.validated_data, request=request
        )
        return api_response(
            ContactSerializer(contact, context={"request": request}).data, message=_("Contact created"), status=201
        )


class ContactDetailView(SubResourceView):
    def validation_error_code(self, errors):
        return codes.CONTACT_INVALID

    def get_contact(self) -> CustomerContact:
        customer = self.get_customer()
        return get_object_or_404(CustomerContact.objects.filter(customer=customer), pk=self.kwargs["contact_id"])

    @extend_schema(responses={200: ContactSerializer}, tags=["contacts"])
    def get(self, request, customer_id, contact_id):
        contact = self.get_contact()
        record_access(request, contact, CONTACT_VIEWED)
        record_unmasked(user=request.user, customer=contact.customer, contacts=[contact], surface="api",
                        request=request)  # fmt: skip
        return api_response(ContactSerializer(contact, context={"request": request}).data)

    def _update(self, request, partial):
        contact = self.get_contact()
        serializer = ContactSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        contact = services.contact_update(
            actor=request.user, contact=contact, data=serializer.validated_data, request=request
        )
        return api_response(ContactSerializer(contact, context={"request": request}).data, message=_("Contact updated"))

    @extend_schema(request=ContactSerializer, responses={200: ContactSerializer}, tags=["contacts"])
    def put(self, request, customer_id, contact_id):
        return self._update(request, partial=False)

    @extend_schema(request=ContactSerializer, responses={200: ContactSerializer}, tags=["contacts"])
    def patch(self, request, customer_id, contact_id):
        return self._update(request, partial=True)

    @extend_schema(responses={200: None}, tags=["contacts"])
    def delete(self, request, customer_id, contact_id):
        services.contact_delete(actor=request.user, contact=self.get_contact(), request=request)
        return api_response(None, message=_("Contact deleted"))


class TagListCreateView(SubResourceView):
    @extend_schema(responses={200: TagSerializer(many=True)}, tags=["tags"])
    def get(self, request, customer_id):
        return api_response(TagSerializer(self.get_customer().tags.all(), many=True).data)

    @extend_schema(request=TagSerializer, responses={201: TagSerializer}, tags=["tags"])
    def post(self, request, customer_id):
        customer = self.get_customer()
        serializer = TagSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tag = services.tag_add(actor=request.user, customer=customer, data=serializer.validated_data, request=request)
        return api_response(TagSerializer(tag).data, message=_("Tag added"), status=201)


class TagDetailView(SubResourceView):
    def get_tag(self) -> CustomerTag:
        customer = self.get_customer()
        return get_object_or_404(CustomerTag.objects.filter(customer=customer), pk=self.kwargs["tag_id"])

    @extend_schema(responses={200: TagSerializer}, tags=["tags"])
    def get(self, request, customer_id, tag_id):
        return api_response(TagSerializer(self.get_tag()).data)

    def _update(self, request, partial):
        tag = self.get_tag()
        serializer = TagSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        tag = services.tag_update(actor=request.user, tag=tag, data=serializer.validated_data, request=request)
        return api_response(TagSerializer(tag).data, message=_("Tag updated"))

    @extend_schema(request=TagSerializer, responses={200: TagSerializer}, tags=["tags"])
    def put(self, request, customer_id, tag_id):
        return self._update(request, partial=False)

    @extend_schema(request=TagSerializer, responses={200: TagSerializer}, tags=["tags"])
    def patch(self, request, customer_id, tag_id):
        return self._update(request, partial=True)

    @extend_schema(responses={200: None}, tags=["tags"])
    def delete(self, request, customer_id, tag_id):
        services.tag_remove(actor=request.user, tag=self.get_tag(), request=request)
        return api_response(None, message=_("Tag removed"))


class CustomerDuplicatesView(CustomerAPIView):
    """Candidate duplicates of a customer, among the customers the caller can see."""

    @extend_schema(responses={200: DuplicateCandidateSerializer(many=True)}, tags=["customers"])
    def get(self, request, customer_id):
        customer = self.get_customer()
        candidates = services.customer_duplicates(customer, visible=customers_visible_to(request.user))
        return api_response(DuplicateCandidateSerializer(candidates, many=True).data)


class CustomerShareView(CustomerAPIView):
    """`POST /customers/{id}/shares {"user_id"}`: let a CSM see a customer they do not manage."""

    required_perms = {"POST": "customers.assign_customer"}

    @extend_schema(request=ShareSerializer, responses={200: None}, tags=["customers"])
    def post(self, request, customer_id):
        customer = self.get_customer()
        serializer = ShareSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.customer_share(
            actor=request.user, customer=customer, user=serializer.validated_data["user_id"], request=request
        )
        return api_response(None, message=_("Customer shared"))


class CustomerUnshareView(CustomerAPIView):
    """`DELETE /customers/{id}/shares/{user_id}`: withdraw a share."""

    required_perms = {"DELETE": "customers.assign_customer"}

    @extend_schema(responses={200: None}, tags=["customers"])
    def delete(self, request, customer_id, user_id):
        customer = self.get_customer()
        user = get_object_or_404(User.objects.filter(tenant=request.user.tenant), pk=user_id)
        services.customer_unshare(actor=request.user, customer=customer, user=user, request=request)
        return api_response(None, message=_("Share withdrawn"))


class CustomerMergeView(CustomerAPIView):
    """`POST /customers/{id}/merge {"duplicate_id": N}`: fold the duplicate into this customer (leads and admins).

    Contacts, tags, shares and every higher app's rows (contracts, ...) move to the survivor; the duplicate is
    soft-deleted and the merge audited. Either customer unknown or invisible to the caller: 404 (40001).
    """

    required_perms = {"POST": "customers.merge_customer"}

    @extend_schema(request=MergeSerializer, responses={200: CustomerDetailSerializer}, tags=["customers"])
    def post(self, request, customer_id):
        survivor = self.get_customer()
        check_api_step_up(request)
        serializer = MergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        duplicate = customer_get_visible(request.user, serializer.validated_data["duplicate_id"])
        if duplicate is None:
            raise NotFound(_("Customer not found."))
        if duplicate.pk == survivor.pk:
            raise ValidationError({"duplicate_id": [_("A customer cannot be merged into itself.")]})
        with self.duplicate_as_conflict():
            services.customer_merge(
                actor=request.user,
                survivor=survivor,
                duplicate=duplicate,
                take_from_duplicate=serializer.validated_data["take_from_duplicate"],
                request=request,
            )
        return api_response(
            CustomerDetailSerializer(self.get_customer(), context={"request": request}).data,
            message=_("Customers merged"),
        )
