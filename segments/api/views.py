"""Segment REST endpoints: CRUD, members (the customer list's item shape), evaluation, history, RFM."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.roles import can_see_amounts
from crm_project.api.envelope import api_response
from crm_project.api.pagination import PageSizePagination
from crm_project.api.permissions import RolePermission
from customers.api.serializers import CustomerListItemSerializer, customer_list_item
from segments import selectors, services
from segments.api.serializers import (
    EvaluationSerializer,
    FieldSerializer,
    MembershipEventSerializer,
    RfmOverviewSerializer,
    SegmentCreatedSerializer,
    SegmentSerializer,
    SegmentWriteSerializer,
)
from segments.models import Segment
from segments.rfm import RFM_SEGMENTS
from segments.rules import RuleError, field_catalogue

VIEW = "segments.view_segment"
CHANGE = "segments.change_segment"


def _rule_errors():
    """Service errors as a 400 naming the field (rules path or model field)."""

    class _Ctx:
        def __enter__(self):
            return self

        def __exit__(self, exc_type, exc, tb):
            if isinstance(exc, RuleError):
                raise ValidationError({exc.path: [exc.message]}) from None
            if isinstance(exc, DjangoValidationError):
                raise ValidationError(getattr(exc, "message_dict", {"non_field_errors": exc.messages})) from None
            return False

    return _Ctx()


class SegmentAPIView(GenericAPIView):
    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {
        "GET": VIEW,
        "POST": "segments.add_segment",
        "PUT": CHANGE,
        "PATCH": CHANGE,
        "DELETE": "segments.delete_segment",
    }
    filter_backends: list = []
    pagination_class = None
    queryset = Segment.objects.none()

    def get_segment(self) -> Segment:
        segment = selectors.segment_get_visible(self.request.user, self.kwargs["segment_id"])
        if segment is None:
            raise NotFound(_("Segment not found."))
        return segment

    def get_changeable_segment(self) -> Segment:
        segment = self.get_segment()
        if not selectors.may_change_segment(self.request.user, segment):
            raise PermissionDenied(_("Only the segment's owner or a lead may change it."))
        return segment


class SegmentListCreateView(SegmentAPIView):
    """`GET /segments` (page/size) and `POST /segments` with a rule tree."""

    pagination_class = PageSizePagination

    @extend_schema(responses={200: SegmentSerializer(many=True)}, tags=["segments"])
    def get(self, request):
        page = self.paginate_queryset(selectors.segments_visible_to(request.user).order_by("name", "pk"))
        return self.get_paginated_response(SegmentSerializer(page, many=True).data)

    @extend_schema(request=SegmentWriteSerializer, responses={201: SegmentCreatedSerializer}, tags=["segments"])
    def post(self, request):
        body = SegmentWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        with _rule_errors():
            segment = services.segment_create(
                actor=request.user,
                name=data["name"],
                rules=data["rules"],
                description=data.get("description", ""),
                is_shared=data.get("is_shared", False),
                request=request,
            )
        return api_response(SegmentCreatedSerializer(segment).data, message=_("Segment created"), status=201)


class SegmentDetailView(SegmentAPIView):
    required_perms = {"GET": VIEW, "PUT": CHANGE, "PATCH": CHANGE, "DELETE": "segments.delete_segment"}

    @extend_schema(responses={200: SegmentSerializer}, tags=["segments"])
    def get(self, request, segment_id):
        return Response(SegmentSerializer(self.get_segment()).data)

    def _update(self, request, *, partial: bool):
        segment = self.get_changeable_segment()
        body = SegmentWriteSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        with _rule_errors():
            segment = services.segment_update(
                actor=request.user, segment=segment, data=dict(body.validated_data), request=request
            )
        return Response(SegmentSerializer(segment).data)

    @extend_schema(request=SegmentWriteSerializer, responses={200: SegmentSerializer}, tags=["segments"])
    def put(self, request, segment_id):
        return self._update(request, partial=False)

    @extend_schema(request=SegmentWriteSerializer, responses={200: SegmentSerializer}, tags=["segments"])
    def patch(self, request, segment_id):
        return self._update(request, partial=True)

    @extend_schema(responses={200: None}, tags=["segments"])
    def delete(self, request, segment_id):
        segment = self.get_changeable_segment()
        services.segment_delete(actor=request.user, segment=segment, request=request)
        return api_response(None, message=_("Segment deleted"))


class SegmentMembersView(SegmentAPIView):
    """`GET /segments/{id}/members`: the customers in it now that the caller may see, like the customer list."""

    required_perms = {"GET": VIEW}
    pagination_class = PageSizePagination

    @extend_schema(responses={200: CustomerListItemSerializer(many=True)}, tags=["segments"])
    def get(self, request, segment_id):
        segment = self.get_segment()
        page = self.paginate_queryset(selectors.segment_members(request.user, segment))
        see_money = can_see_amounts(request.user)
        return self.get_paginated_response([customer_list_item(c, see_money=see_money) for c in page])


class SegmentEvaluateView(SegmentAPIView):
    """`POST /segments/{id}/evaluate`: re-evaluate now (membership history updated)."""

    required_perms = {"POST": CHANGE}

    @extend_schema(request=None, responses={200: EvaluationSerializer}, tags=["segments"])
    def post(self, request, segment_id):
        segment = self.get_segment()
        result = services.segment_evaluate_now(actor=request.user, segment=segment, request=request)
        return api_response(EvaluationSerializer(result).data, message=_("Segment re-evaluated"))


class SegmentHistoryView(SegmentAPIView):
    """`GET /segments/{id}/history`: who entered and left when (customers the caller may see)."""

    required_perms = {"GET": VIEW}
    pagination_class = PageSizePagination

    @extend_schema(responses={200: MembershipEventSerializer(many=True)}, tags=["segments"])
    def get(self, request, segment_id):
        segment = self.get_segment()
        page = self.paginate_queryset(selectors.segment_history(segment, request.user))
        return self.get_paginated_response(MembershipEventSerializer(page, many=True).data)


class SegmentFieldsView(SegmentAPIView):
    """`GET /segments/fields`: the fields a rule may use and their operators."""

    required_perms = {"GET": VIEW}

    @extend_schema(responses={200: FieldSerializer(many=True)}, tags=["segments"])
    def get(self, request):
        return Response(field_catalogue())


class RfmOverviewView(SegmentAPIView):
    """`GET /segments/rfm`: customers per RFM segment and the latest clustering with its silhouette."""

    required_perms = {"GET": VIEW}

    @extend_schema(responses={200: RfmOverviewSerializer}, tags=["segments"])
    def get(self, request):
        rows = selectors.rfm_summary(request.user)
        run = selectors.latest_cluster_run()
        return Response(
            {
                "segments": [
                    {
                        "rfm_segment": row["rfm_segment"],
                        "label": str(RFM_SEGMENTS.get(row["rfm_segment"], row["rfm_segment"])),
                        "customers": row["n"],
                        "average_health": round(float(row["health"]), 2) if row["health"] is not None else None,
                    }
                    for row in rows
                ],
                "clusters": (
                    {
                        "computed_at": run.computed_at.strftime("%Y-%m-%d %H:%M:%S"),
                        "customers": run.customers,
                        "k": run.k,
                        "silhouette": run.silhouette,
                        "features": run.features,
                        "centres": run.centres,
                        "sizes": run.sizes,
                    }
                    if run
                    else None
                ),
            }
        )
