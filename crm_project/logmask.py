"""Masking of personal data: the one shape of a masked phone number or e-mail address, and the log filter.

`mask_phone("13800138000") == "138****8000"`, `mask_email("zhang@abc-tech.com") == "z***@abc-tech.com"`.
`PersonalDataLogFilter` (installed on every handler in settings.LOGGING) rewrites every phone number and e-mail
address in a log line — message, arguments and exception text — into these shapes.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

EMAIL_RE = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# Mainland mobiles (optionally +86), landlines like 010-12345678 / 0755 1234 5678, and other runs of 7+ digits.
PHONE_RE = re.compile(r"(?<![\w.])(\+?86[- ]?)?(1[3-9]\d{9}|0\d{2,3}[- ]?\d{7,8}|\d{3}[- ]?\d{4}[- ]?\d{4})(?![\w.])")


def mask_email(value: str) -> str:
    name, sep, domain = (value or "").partition("@")
    if not sep:
        return MASK if value else value
    return f"{name[:1]}***@{domain}"


def mask_phone(value: str) -> str:
    text = value or ""
    digits = re.sub(r"\D", "", text)
    if not digits:
        return MASK if text else text
    if len(digits) < 7:
        return MASK
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return f"{digits[:3]}****{digits[-4:]}"


def mask_wechat(value: str) -> str:
    text = value or ""
    if not text:
        return text
    return f"{text[:1]}***" if len(text) > 1 else MASK


def mask_text(text: str) -> str:
    """Every e-mail address and phone number in free text, masked."""
    if not text:
        return text
    text = EMAIL_RE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return PHONE_RE.sub(lambda m: mask_phone(m.group(2)), text)


class PersonalDataLogFilter(logging.Filter):
    """Masks phone numbers and e-mail addresses in the formatted message and the traceback of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not ours
            return True
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True
