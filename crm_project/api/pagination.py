"""`page` + `size` pagination answering {total, page, size, items}."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response


def parse_positive_int(params, name: str, default: int) -> int:
    """A query parameter that must be a whole number ≥ 1; anything else is a 400 naming it."""
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise ValidationError({name: [_("Must be a whole number.")]}) from None
    if value < 1:
        raise ValidationError({name: [_("Must be at least 1.")]})
    return value


class PageSizePagination(BasePagination):
    """Page numbers from 1; `size` defaults to 20 and is capped at API_MAX_PAGE_SIZE."""

    default_size = 20

    def paginate_queryset(self, queryset, request, view=None):
        return self.paginate(queryset, request.query_params, count=getattr(view, "count_queryset", None))

    def paginate(self, queryset, params=None, *, page: int | None = None, size: int | None = None, count=None):
        """One page of `queryset`; `count(queryset)` may replace `queryset.count()` (e.g. a cached total)."""
        params = params or {}
        self.page = page if page is not None else parse_positive_int(params, "page", 1)
        requested = size if size is not None else parse_positive_int(params, "size", self.default_size)
        self.size = min(requested, settings.API_MAX_PAGE_SIZE)
        self.total = count(queryset) if count is not None else queryset.count()
        offset = (self.page - 1) * self.size
        # Past the last page there is simply nothing: an empty page, not an error.
        return list(queryset[offset : offset + self.size]) if offset < self.total else []

    def get_paginated_response(self, data):
        return Response({"total": self.total, "page": self.page, "size": self.size, "items": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["total", "page", "size", "items"],
            "properties": {
                "total": {"type": "integer", "example": 156},
                "page": {"type": "integer", "example": 1},
                "size": {"type": "integer", "example": 20},
                "items": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "size",
                "required": False,
                "in": "query",
                "description": f"Items per page (default 20, at most {settings.API_MAX_PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE},
            },
        ]


_PAGINATED: dict[type, type] = {}


def paginated(item_serializer: type) -> type:
    """A serializer describing one page of `item_serializer` items, for views that paginate by hand (schema only)."""
    from rest_framework import serializers

    if item_serializer not in _PAGINATED:
        name = "Paginated" + item_serializer.__name__.removesuffix("Serializer") + "Page"
        _PAGINATED[item_serializer] = type(
            name,
            (serializers.Serializer,),
            {
                "total": serializers.IntegerField(),
                "page": serializers.IntegerField(),
                "size": serializers.IntegerField(),
                "items": item_serializer(many=True),
            },
        )
    return _PAGINATED[item_serializer]
