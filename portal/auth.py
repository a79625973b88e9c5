"""Portal sign-in, kept apart from staff authentication.

* The portal's session key is `portal_account_id` (plus a hash of the password, so a new password signs out
  every other session). Staff pages read `request.user` only, so a portal session never reaches them; the
  portal reads only its own key, so a staff session never reaches the portal.
* Every portal request re-checks the account: active, contact still there, customer neither lost nor deleted;
  otherwise the portal session ends at once.
* The portal view runs inside the account's tenant scope; the account's customer is `request.portal_customer`.
* Every request of a signed-in portal user writes one audit row (`portal.services.request_audited`).
"""

from __future__ import annotations

import functools
import hashlib

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import salted_hmac

from accounts.tenancy import tenant_scope, unscoped
from customers.choices import CustomerStatus

SESSION_KEY = "portal_account_id"
SESSION_HASH_KEY = "portal_account_hash"
PENDING_2FA_KEY = "portal_pending_account_id"
FAILURE_LIMIT = 5
LOCKOUT_SECONDS = 15 * 60


def session_hash(account) -> str:
    return salted_hmac("portal.session", account.password or "-").hexdigest()


def login(request, account) -> None:
    request.session.cycle_key()
    request.session.pop(PENDING_2FA_KEY, None)
    request.session[SESSION_KEY] = account.pk
    request.session[SESSION_HASH_KEY] = session_hash(account)


def logout(request) -> None:
    for key in (SESSION_KEY, SESSION_HASH_KEY, PENDING_2FA_KEY):
        request.session.pop(key, None)
    request.session.cycle_key()


def account_may_enter(account) -> bool:
    customer = account.customer
    return (
        account.is_active
        and account.has_password
        and account.contact_id is not None
        and customer.deleted_at is None
        and customer.status != CustomerStatus.LOST
    )


def current_account(request):
    """The signed-in portal account of this request, or None (and the portal session is ended)."""
    from portal.models import PortalAccount

    account_id = request.session.get(SESSION_KEY)
    if not account_id:
        return None
    with unscoped("the portal session names its account; its tenant is read from it"):
        account = PortalAccount.objects.select_related("customer", "contact", "tenant").filter(pk=account_id).first()
    if (
        account is None
        or not account_may_enter(account)
        or request.session.get(SESSION_HASH_KEY) != session_hash(account)
    ):
        logout(request)
        return None
    return account


def portal_login_required(view):
    """Portal pages: a valid portal account, inside its tenant's scope; otherwise the portal's sign-in page."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        account = current_account(request)
        if account is None:
            return redirect(f"{reverse('portal:login')}?next={request.path}")
        request.portal_account = account
        request.portal_customer = account.customer
        status = 500
        try:
            with tenant_scope(account.tenant):
                response = view(request, *args, **kwargs)
            status = response.status_code
            return response
        except Http404:
            status = 404
            raise
        except PermissionDenied:
            status = 403
            raise
        finally:
            # Everything a portal user does is on record, refused requests too (one INSERT per request).
            from portal.services import request_audited

            request_audited(account=account, request=request, status=status)

    return wrapper


# --- Lockout: 5 failures of one e-mail from one address → 429 for 15 minutes --------------------------------------
def _lock_key(email: str, ip: str) -> str:
    digest = hashlib.sha256(f"{email.strip().lower()}|{ip}".encode()).hexdigest()[:32]
    return f"portal:login-failures:{digest}"


def is_locked(email: str, ip: str) -> bool:
    return (cache.get(_lock_key(email, ip)) or 0) >= FAILURE_LIMIT


def record_failure(email: str, ip: str) -> int:
    key = _lock_key(email, ip)
    if cache.add(key, 1, timeout=LOCKOUT_SECONDS):
        return 1
    try:
        return cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=LOCKOUT_SECONDS)
        return 1


def clear_failures(email: str, ip: str) -> None:
    cache.delete(_lock_key(email, ip))
