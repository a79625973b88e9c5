"""The one error of contract documents."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class TemplateRenderError(ValidationError):
    """A contract template (or one of its clauses) does not compile or render; `message` says why and where.

    A Django ValidationError, so the API's exception handler answers it as a 400 and forms show it as an error.
    """

    def __init__(self, message: str):
        super().__init__(message, code="template_error")

    def __str__(self) -> str:
        return str(self.message)
