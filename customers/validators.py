"""Format rules of contact details and tag names (PRD 3.3.1)."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext_lazy as _

_PHONE = re.compile(r"^\+?[0-9][0-9\- ()]{4,18}[0-9]$")
_MOBILE = re.compile(r"^(1[3-9][0-9]{9}|\+[1-9][0-9]{6,14})$")
# Letters of any script, digits, spaces and - _ . · only.
_TAG = re.compile(r"^[\w\s\-.·]+$")

validate_email = EmailValidator(message=_("Enter a valid e-mail address."))


def validate_phone(value: str) -> None:
    if value and not _PHONE.match(value):
        raise ValidationError(_("Enter a valid phone number, e.g. 010-12345678."), code="invalid_phone")


def validate_mobile(value: str) -> None:
    if value and not _MOBILE.match(value):
        raise ValidationError(
            _("Enter a valid mobile number, e.g. 13800138000 or +8613800138000."), code="invalid_mobile"
        )


def validate_tag_name(value: str) -> None:
    if not value or not value.strip():
        raise ValidationError(_("A tag name cannot be empty."), code="blank")
    if not _TAG.match(value):
        raise ValidationError(_("A tag name may contain letters, digits, spaces and - _ . · only."), code="invalid_tag")
