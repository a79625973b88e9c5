"""Staff second factor: TOTP (pyotp, RFC 6238) and single-use recovery codes.

* A code is accepted once: the device remembers the last accepted 30 s step (no replay within the window).
* Recovery codes are random (50 bits), stored as HMAC-SHA256 keyed with SECRET_KEY, used once.
* Wrong codes are counted per user in the cache: after `FAILURE_LIMIT` the second step answers 429 for
  `LOCKOUT_SECONDS` (the password step is locked out by django-axes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models_auth import RecoveryCode, TOTPDevice

RECOVERY_CODE_COUNT = 10
FAILURE_LIMIT = 5
LOCKOUT_SECONDS = 15 * 60
ISSUER = "Customer Success CRM"
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def confirmed_device(user) -> TOTPDevice | None:
    if user is None or not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed_at__isnull=False).first()


def has_device(user) -> bool:
    return confirmed_device(user) is not None


def second_factor_required(user) -> bool:
    """Must this staff user have a second factor? Tenant administrators always; everyone of a tenant that says so."""
    from accounts.roles import TENANT_ADMIN

    if user is None or not user.is_authenticated or user.tenant_id is None:
        return False
    return user.has_role(TENANT_ADMIN) or bool(user.tenant.require_second_factor)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=ISSUER)


def qr_svg_data_uri(uri: str) -> str:
    """The otpauth URI as an SVG QR code in a data: URI (segno, pure Python; no CDN, CSP allows data: images)."""
    import segno

    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _matching_step(secret: str, code: str, after_step: int) -> int | None:
    """The time step (now ±1) whose code is `code` and which is newer than `after_step`."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in (now_step - 1, now_step, now_step + 1):
        if step > after_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_matches_secret(secret: str, code: str) -> bool:
    return _matching_step(secret, code, 0) is not None


def _hash_recovery(code: str) -> str:
    normalised = (code or "").strip().lower().replace("-", "").replace(" ", "")
    return salted_hmac("accounts.totp.recovery", normalised, algorithm="sha256").hexdigest()


def _lock_key(user) -> str:
    return f"secauth:2fa-failures:{user.pk}"


def is_locked(user) -> bool:
    return (cache.get(_lock_key(user)) or 0) >= FAILURE_LIMIT


def _record_failure(user) -> None:
    key = _lock_key(user)
    if not cache.add(key, 1, timeout=LOCKOUT_SECONDS):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=LOCKOUT_SECONDS)


def verify(user, code: str) -> str | None:
    """Check a TOTP or recovery code of `user`. Returns "totp", "recovery" or None (and counts the failure)."""
    if is_locked(user):
        return None
    device = confirmed_device(user)
    if device is not None:
        step = _matching_step(device.secret, code, device.last_step)
        # The conditional update makes the step single-use even with two requests racing.
        if (
            step is not None
            and TOTPDevice.objects.filter(pk=device.pk, last_step__lt=step).update(
                last_step=step, last_used_at=timezone.now()
            )
            == 1
        ):
            cache.delete(_lock_key(user))
            return "totp"
        if code and not code.strip().isdigit():
            used = RecoveryCode.objects.filter(user=user, code_hash=_hash_recovery(code), used_at__isnull=True).update(
                used_at=timezone.now()
            )
            if used == 1:
                cache.delete(_lock_key(user))
                return "recovery"
    _record_failure(user)
    return None


def generate_recovery_codes(user) -> list[str]:
    """Replace every recovery code of the user with new ones; returns them in clear (shown once)."""
    codes = []
    for _index in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(RecoveryCode(user=user, code_hash=_hash_recovery(code)) for code in codes)
    return codes


def remaining_recovery_codes(user) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


@transaction.atomic
def enroll(user, secret: str, code: str) -> list[str] | None:
    """Confirm a new device with a first code; returns fresh recovery codes, or None when the code is wrong."""
    step = _matching_step(secret, code, 0)
    if step is None:
        return None
    TOTPDevice.objects.filter(user=user).delete()
    TOTPDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now(), last_step=step)
    return generate_recovery_codes(user)


@transaction.atomic
def disable(user) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:8]
