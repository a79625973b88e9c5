"""`/api/v1/privacy/requests`: data-subject requests for tenant admins (PRD 7.4; PIPL 45-47, GDPR 15/17/20).

API tokens and JWT callers are not asked for a second factor (the browser flow is, see privacy/views.py).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated

from accounts.stepup import check_api_step_up
from crm_project.api import codes
from crm_project.api.envelope import api_response
from crm_project.api.pagination import PageSizePagination
from crm_project.api.permissions import RolePermission
from privacy import services
from privacy.api.serializers import RequestCreateSerializer, RequestSerializer
from privacy.models import DataSubjectRequest

VIEW = "privacy.view_datasubjectrequest"
ADD = "privacy.add_datasubjectrequest"


class PrivacyAPIView(GenericAPIView):
    permission_classes = [IsAuthenticated, RolePermission]
    not_found_code = codes.NOT_FOUND
    filter_backends: list = []
    pagination_class = None
    queryset = DataSubjectRequest.objects.none()

    def get_request_object(self) -> DataSubjectRequest:
        dsr = DataSubjectRequest.objects.filter(pk=self.kwargs["request_id"]).first()
        if dsr is None:
            raise NotFound(_("Request not found."))
        return dsr


class RequestListCreateView(PrivacyAPIView):
    """`GET /privacy/requests` (page/size, newest first) and `POST` a request, carried out at once."""

    required_perms = {"GET": VIEW, "POST": ADD}
    pagination_class = PageSizePagination

    @extend_schema(responses={200: RequestSerializer(many=True)}, tags=["privacy"])
    def get(self, request):
        page = self.paginate_queryset(DataSubjectRequest.objects.order_by("-created_at", "-id"))
        return self.get_paginated_response(RequestSerializer(page, many=True).data)

    @extend_schema(request=RequestCreateSerializer, responses={201: RequestSerializer}, tags=["privacy"])
    def post(self, request):
        check_api_step_up(request)  # session callers (the browser) confirm the second factor; tokens are exempt
        body = RequestCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        contact = services.contact_for_request(request.user, data["contact_id"])
        if contact is None:
            raise NotFound(_("Contact not found."))
        try:
            dsr = services.request_create(
                actor=request.user,
                kind=data["kind"],
                contact=contact,
                reason=data.get("reason", ""),
                changes=data.get("changes"),
                request=request,
            )
        except DjangoValidationError as exc:
            raise ValidationError(getattr(exc, "message_dict", {"non_field_errors": exc.messages})) from None
        return api_response(RequestSerializer(dsr).data, message=_("Request carried out"), status=201)


class RequestDetailView(PrivacyAPIView):
    required_perms = {"GET": VIEW}

    @extend_schema(responses={200: RequestSerializer}, tags=["privacy"])
    def get(self, request, request_id):
        return api_response(RequestSerializer(self.get_request_object()).data)


class RequestPackageView(PrivacyAPIView):
    """`GET /privacy/requests/{id}/package`: the export's zip (data.json and one CSV per source); audited."""

    required_perms = {"GET": VIEW}

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY}, tags=["privacy"])
    def get(self, request, request_id):
        dsr = self.get_request_object()
        content = services.package_download(actor=request.user, dsr=dsr, request=request)
        if content is None:
            raise NotFound(_("This request has no export package (any more)."))
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="privacy-request-{dsr.pk}.zip"'
        return response
