"""`sort=field,desc` ordering over a whitelist declared by the view (`sort_fields`)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend


def parse_sort(raw: str | None, allowed: dict[str, str], default: list[str] | None = None) -> list[str]:
    """Translate `field,desc` (or `field,asc`; several joined by `;`) into order_by terms.

    `allowed` maps the public field name to the ORM path. Unknown fields or directions raise a 400
    that names them.
    """
    if not raw:
        return list(default or [])
    ordering = []
    for part in raw.split(";"):
        pieces = [piece.strip() for piece in part.split(",")]
        field = pieces[0]
        direction = pieces[1].lower() if len(pieces) > 1 and pieces[1] else "asc"
        if field not in allowed:
            raise ValidationError(
                {
                    "sort": [
                        _("Cannot sort by '%(field)s'; allowed: %(allowed)s.")
                        % {"field": field, "allowed": ", ".join(sorted(allowed)) or "-"}
                    ]
                }
            )
        if len(pieces) > 2:
            raise ValidationError(
                {"sort": [_("Write 'field' or 'field,asc' or 'field,desc', got '%s'.") % part.strip()]}
            )
        if direction not in ("asc", "desc"):
            raise ValidationError({"sort": [_("Direction must be 'asc' or 'desc', got '%s'.") % direction]})
        path = allowed[field]
        ordering.append(f"-{path}" if direction == "desc" else path)
    return ordering


class SortFilter(BaseFilterBackend):
    """Applies `sort`; views declare `sort_fields` ({public name: orm path}) and `default_sort`."""

    def filter_queryset(self, request, queryset, view):
        allowed = getattr(view, "sort_fields", None)
        if allowed is None:
            return queryset
        ordering = parse_sort(request.query_params.get("sort"), allowed, getattr(view, "default_sort", None))
        if ordering:
            # A unique tiebreaker keeps pages stable when many rows share the sort value.
            if not any(term.lstrip("-") == "pk" for term in ordering):
                ordering.append("-pk" if ordering[0].startswith("-") else "pk")
            queryset = queryset.order_by(*ordering)
        return queryset

    def get_schema_operation_parameters(self, view):
        allowed = getattr(view, "sort_fields", None)
        if not allowed:
            return []
        return [
            {
                "name": "sort",
                "required": False,
                "in": "query",
                "description": "`field,asc` or `field,desc`; fields: " + ", ".join(sorted(allowed)),
                "schema": {"type": "string", "example": f"{next(iter(allowed))},desc"},
            }
        ]
