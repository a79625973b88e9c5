"""Small helpers shared by the staff views of every app."""

from django.core.exceptions import ValidationError
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _


def safe_next(request, candidate: str | None, default: str) -> str:
    """`candidate` when it points back into this site, else `default` (no open redirects)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def error_text(exc: Exception) -> str:
    """One readable line for a service refusal shown as a message."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return " ".join(str(message) for messages_ in exc.message_dict.values() for message in messages_)
        return " ".join(str(message) for message in exc.messages)
    return str(exc) or _("You may not do that.")
