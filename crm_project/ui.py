"""Small helpers shared by the staff views of every app (the generic list page is crm_project.lists)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.http import Http404, QueryDict
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _

T = TypeVar("T")


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


def wants_partial(request) -> bool:
    """An htmx swap (not htmx restoring a page from history, which needs the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def query_without(request, *keys: str) -> QueryDict:
    """A mutable copy of the query string without `keys` (for links that change one thing)."""
    params = request.GET.copy()
    for key in keys:
        params.pop(key, None)
    return params


def visible_or_404(getter: Callable[..., T | None], user, pk, *, message: str | None = None, **kwargs: Any) -> T:
    """`getter(user, pk, **kwargs)` (an app's `*_get_visible` selector) or a 404 that looks like a missing id."""
    obj = getter(user, pk, **kwargs)
    if obj is None:
        raise Http404(message or _("Not found."))
    return obj


def default_field_label(model) -> Callable[[str], str]:
    """`name` → the model field's verbose name (capitalised), or the name made readable."""

    def label(name: str) -> str:
        try:
            return str(capfirst(model._meta.get_field(name).verbose_name))
        except FieldDoesNotExist:
            return capfirst(name.replace("_", " "))

    return label


def _add_form_error(form, field: str | None, messages_: list[str], label: Callable[[str], str] | None) -> None:
    if field is not None and field not in form.fields:
        # A field the form does not show (e.g. the manager for a CSM): name it in a form-level error.
        name = label(field) if label else capfirst(field.replace("_", " "))
        messages_ = [f"{name}: {message}" for message in messages_]
        field = None
    for message in messages_:
        form.add_error(field, message)


def apply_service_errors(
    exc: ValidationError,
    form,
    *,
    aliases: dict[str, str] | None = None,
    field_label: Callable[[str], str] | None = None,
    formset=None,
    formset_key: str | None = None,
    formset_rows: list[int] | None = None,
) -> None:
    """Put a service ValidationError next to the fields it names; unknown keys become form-level errors.

    `aliases` maps service keys to form fields (`{"assigned_manager_id": "assigned_manager"}`). With a formset,
    keys `"<formset_key>[i].field"` land on row `formset_rows[i]` (or row i), and `"<formset_key>"` on the
    formset's non-form errors.
    """
    if not hasattr(exc, "error_dict"):
        _add_form_error(form, None, exc.messages, field_label)
        return
    row_key = re.compile(rf"^{re.escape(formset_key)}\[(\d+)\]\.(\w+)$") if formset_key else None
    for key, messages_ in exc.message_dict.items():
        match = row_key.match(key) if row_key else None
        if match and formset is not None:
            index = int(match.group(1))
            row = formset_rows[index] if formset_rows and index < len(formset_rows) else index
            if row < len(formset.forms):
                name = match.group(2)
                row_form = formset.forms[row]
                _add_form_error(row_form, name if name in row_form.fields else None, messages_, field_label)
                continue
        if formset is not None and key == formset_key:
            formset.non_form_errors().extend(messages_)
            continue
        field = (aliases or {}).get(key, key)
        _add_form_error(form, None if field == NON_FIELD_ERRORS else field, messages_, field_label)
