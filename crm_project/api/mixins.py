"""Serializer pieces shared by every app's API."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class RefuseReadOnlyMixin:
    """Answer 400 for keys the client is not allowed to write, instead of silently dropping them.

    List the keys in `refused_fields`; each one present in the body is named in the validation error
    (`{"status": ["This field is read-only."]}`). A key may carry its own message (or a function returning
    it, so it is translated per request) in `refused_messages`.
    """

    refused_fields: tuple[str, ...] = ()
    refused_messages: dict[str, Any] = {}

    def refused_message(self, key: str) -> str:
        message = self.refused_messages.get(key)
        if callable(message):
            return message()
        return message or _("This field is read-only.")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            refused = [key for key in self.refused_fields if key in data]
            if refused:
                raise serializers.ValidationError({key: [self.refused_message(key)] for key in refused})
        return super().to_internal_value(data)
