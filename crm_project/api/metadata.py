"""`OPTIONS` answers: what the endpoint is and which methods the caller may use, nothing about the data.

DRF's SimpleMetadata builds a serializer per write method, which fails (500) on views that choose their
serializer per method, and describes fields to callers who may not write. The OpenAPI schema documents fields.
"""

from __future__ import annotations

from rest_framework.metadata import BaseMetadata

from crm_project.api.permissions import implemented_methods, required_permissions, user_may


class MethodsMetadata(BaseMetadata):
    def determine_metadata(self, request, view):
        allowed = []
        for method in implemented_methods(view):
            perms = required_permissions(view, method)
            if perms is None or user_may(request.user, perms):
                allowed.append(method)
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "methods": allowed,
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }
