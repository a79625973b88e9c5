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
from customers.selectors import customer_get_visible
from segments import campaigns, selectors, services, smart_tags
from segments.api.serializers import (
    AcceptedTagSerializer,
    CampaignMemberSerializer,
    CampaignResultsSerializer,
    CampaignSerializer,
    CampaignWriteSerializer,
    EvaluationSerializer,
    FieldSerializer,
    LaunchSerializer,
    MembershipEventSerializer,
    RfmOverviewSerializer,
    SegmentCreatedSerializer,
    SegmentSerializer,
    SegmentWriteSerializer,
    TagSuggestionSerializer,
)
from segments.models import Campaign, Segment, TagSuggestion
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


# --- Tag recommendations ------------------------------------------------------------------------------------------
class TagSuggestionAPIView(GenericAPIView):
    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {"GET": "customers.view_customer", "POST": "segments.change_tagsuggestion"}
    filter_backends: list = []
    pagination_class = None
    queryset = TagSuggestion.objects.none()


class CustomerTagSuggestionsView(TagSuggestionAPIView):
    """`GET /customers/{id}/tag-suggestions`: pending recommendations with confidence and source, best first."""

    @extend_schema(responses={200: TagSuggestionSerializer(many=True)}, tags=["segments"])
    def get(self, request, customer_id):
        customer = customer_get_visible(request.user, customer_id)
        if customer is None:
            raise NotFound(_("Customer not found."))
        return Response(TagSuggestionSerializer(smart_tags.suggestions_pending(customer), many=True).data)


class _SuggestionDecisionView(TagSuggestionAPIView):
    required_perms = {"POST": "segments.change_tagsuggestion"}

    def get_suggestion(self):
        suggestion = selectors.tag_suggestion_get(self.request.user, self.kwargs["suggestion_id"])
        if suggestion is None:
            raise NotFound(_("Recommendation not found."))
        return suggestion


class TagSuggestionAcceptView(_SuggestionDecisionView):
    """`POST /tag-suggestions/{id}/accept`: the recommendation becomes a tag of the customer."""

    @extend_schema(request=None, responses={200: AcceptedTagSerializer}, tags=["segments"])
    def post(self, request, suggestion_id):
        suggestion = self.get_suggestion()
        with _rule_errors():
            tag = smart_tags.suggestion_accept(actor=request.user, suggestion=suggestion, request=request)
        return api_response(AcceptedTagSerializer(tag).data, message=_("Tag added"))


class TagSuggestionDismissView(_SuggestionDecisionView):
    """`POST /tag-suggestions/{id}/dismiss`: remembered, never proposed again for this customer."""

    @extend_schema(request=None, responses={200: TagSuggestionSerializer}, tags=["segments"])
    def post(self, request, suggestion_id):
        suggestion = self.get_suggestion()
        with _rule_errors():
            suggestion = smart_tags.suggestion_dismiss(actor=request.user, suggestion=suggestion, request=request)
        return api_response(TagSuggestionSerializer(suggestion).data, message=_("Recommendation dismissed"))


# --- Campaigns ----------------------------------------------------------------------------------------------------
CAMPAIGN_VIEW = "segments.view_campaign"
CAMPAIGN_CHANGE = "segments.change_campaign"


class CampaignAPIView(GenericAPIView):
    permission_classes = [IsAuthenticated, RolePermission]
    required_perms = {
        "GET": CAMPAIGN_VIEW,
        "POST": "segments.add_campaign",
        "PUT": CAMPAIGN_CHANGE,
        "PATCH": CAMPAIGN_CHANGE,
        "DELETE": "segments.delete_campaign",
    }
    filter_backends: list = []
    pagination_class = None
    queryset = Campaign.objects.none()

    def get_campaign(self) -> Campaign:
        campaign = selectors.campaign_get(self.kwargs["campaign_id"])
        if campaign is None:
            raise NotFound(_("Campaign not found."))
        return campaign

    def context(self) -> dict:
        return {"see_money": can_see_amounts(self.request.user)}

    def campaign_data(self, validated: dict) -> dict:
        data = dict(validated)
        if "segment_id" in data:
            segment_id = data.pop("segment_id")
            segment = None
            if segment_id is not None:
                segment = selectors.segment_get_visible(self.request.user, segment_id)
                if segment is None:
                    raise ValidationError({"segment_id": [_("Unknown segment.")]})
            data["segment"] = segment
        return data


class CampaignListCreateView(CampaignAPIView):
    """`GET /campaigns` (page/size) and `POST /campaigns`."""

    pagination_class = PageSizePagination

    @extend_schema(responses={200: CampaignSerializer(many=True)}, tags=["campaigns"])
    def get(self, request):
        page = self.paginate_queryset(Campaign.objects.order_by("-created_at", "-pk"))
        return self.get_paginated_response(CampaignSerializer(page, many=True, context=self.context()).data)

    @extend_schema(request=CampaignWriteSerializer, responses={201: CampaignSerializer}, tags=["campaigns"])
    def post(self, request):
        body = CampaignWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with _rule_errors():
            campaign = campaigns.campaign_create(
                actor=request.user, data=self.campaign_data(body.validated_data), request=request
            )
        return api_response(
            CampaignSerializer(campaign, context=self.context()).data, message=_("Campaign created"), status=201
        )


class CampaignDetailView(CampaignAPIView):
    @extend_schema(responses={200: CampaignSerializer}, tags=["campaigns"])
    def get(self, request, campaign_id):
        return Response(CampaignSerializer(self.get_campaign(), context=self.context()).data)

    def _update(self, request, *, partial: bool):
        campaign = self.get_campaign()
        body = CampaignWriteSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        with _rule_errors():
            campaign = campaigns.campaign_update(
                actor=request.user, campaign=campaign, data=self.campaign_data(body.validated_data), request=request
            )
        return Response(CampaignSerializer(campaign, context=self.context()).data)

    @extend_schema(request=CampaignWriteSerializer, responses={200: CampaignSerializer}, tags=["campaigns"])
    def put(self, request, campaign_id):
        return self._update(request, partial=False)

    @extend_schema(request=CampaignWriteSerializer, responses={200: CampaignSerializer}, tags=["campaigns"])
    def patch(self, request, campaign_id):
        return self._update(request, partial=True)

    @extend_schema(responses={200: None}, tags=["campaigns"])
    def delete(self, request, campaign_id):
        campaigns.campaign_delete(actor=request.user, campaign=self.get_campaign(), request=request)
        return api_response(None, message=_("Campaign deleted"))


class CampaignLaunchView(CampaignAPIView):
    """`POST /campaigns/{id}/launch`: snapshot the segment, draw the control group; e-mails and CSM tasks are queued
    (sent in the background; the campaign page shows the progress)."""

    required_perms = {"POST": "segments.launch_campaign"}

    @extend_schema(request=None, responses={200: LaunchSerializer}, tags=["campaigns"])
    def post(self, request, campaign_id):
        campaign = self.get_campaign()
        with _rule_errors():
            result = campaigns.campaign_launch(actor=request.user, campaign=campaign, request=request)
        return api_response(LaunchSerializer(result.__dict__).data, message=_("Campaign launched"))


class CampaignMembersView(CampaignAPIView):
    """`GET /campaigns/{id}/members` (page/size): the launch snapshot with outcomes (customers the caller sees)."""

    required_perms = {"GET": CAMPAIGN_VIEW}
    pagination_class = PageSizePagination

    @extend_schema(responses={200: CampaignMemberSerializer(many=True)}, tags=["campaigns"])
    def get(self, request, campaign_id):
        campaign = self.get_campaign()
        page = self.paginate_queryset(selectors.campaign_members(request.user, campaign))
        return self.get_paginated_response(CampaignMemberSerializer(page, many=True, context=self.context()).data)


class CampaignResultsView(CampaignAPIView):
    """`GET /campaigns/{id}/results`: treated vs control, conversion rate, revenue, ROI, uplift."""

    required_perms = {"GET": CAMPAIGN_VIEW}

    @extend_schema(responses={200: CampaignResultsSerializer}, tags=["campaigns"])
    def get(self, request, campaign_id):
        results = campaigns.campaign_results(self.get_campaign())
        if not can_see_amounts(request.user):
            for key in ("cost", "revenue", "roi", "incremental_revenue", "incremental_roi"):
                results[key] = None
            for group in (results["treated"], results["control"]):
                group["revenue"] = group["revenue_per_member"] = None
        return Response(CampaignResultsSerializer(results).data)
