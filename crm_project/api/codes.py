"""Business codes carried in the envelope's `code` (the PRD's 4.3.1 plus the generic ones we document)."""

from django.utils.translation import gettext_lazy as _

OK = 200
CREATED = 201

VALIDATION_ERROR = 40000
CUSTOMER_NOT_FOUND = 40001
CUSTOMER_DUPLICATE = 40002
CONTACT_INVALID = 40003
PERMISSION_DENIED = 40004
CONTRACT_INVALID = 40005
NOT_AUTHENTICATED = 40100
SECOND_FACTOR_REQUIRED = 40101
STEP_UP_REQUIRED = 40301
ENROLMENT_REQUIRED = 40302
NOT_FOUND = 40400
METHOD_NOT_ALLOWED = 40500
NOT_ACCEPTABLE = 40600
CONFLICT = 40900
PAYLOAD_TOO_LARGE = 41300
UNSUPPORTED_MEDIA_TYPE = 41500
THROTTLED = 42900
SERVER_ERROR = 50000
SERVICE_UNAVAILABLE = 50300
HEALTH_SCORE_FAILED = 50001
SYNC_FAILED = 50002

DESCRIPTIONS = {
    OK: _("Success"),
    CREATED: _("Created"),
    VALIDATION_ERROR: _("Validation failed: `data.errors` maps each field to its messages"),
    CUSTOMER_NOT_FOUND: _("Customer does not exist (or is not visible to you)"),
    CUSTOMER_DUPLICATE: _("Customer name or code already exists"),
    CONTACT_INVALID: _("Contact information is malformed (e-mail, phone)"),
    PERMISSION_DENIED: _("Permission denied"),
    CONTRACT_INVALID: _("Contract dates or amount are invalid"),
    NOT_AUTHENTICATED: _("Authentication required or credentials invalid"),
    SECOND_FACTOR_REQUIRED: _("The account has a second factor: send `otp_code` (authenticator or recovery code)"),
    STEP_UP_REQUIRED: _("Sensitive action: confirm your second factor again at /accounts/step-up/, then retry"),
    ENROLMENT_REQUIRED: _(
        "Your account must set up its second factor first: open /accounts/two-factor/ in the browser, then retry"
    ),
    NOT_FOUND: _("Not found"),
    METHOD_NOT_ALLOWED: _("Method not allowed"),
    NOT_ACCEPTABLE: _("Not acceptable"),
    CONFLICT: _("Conflict with the current state"),
    PAYLOAD_TOO_LARGE: _("The request body is too large"),
    UNSUPPORTED_MEDIA_TYPE: _("Unsupported media type"),
    THROTTLED: _("Too many requests"),
    SERVER_ERROR: _("Internal error; quote the trace_id when reporting it"),
    SERVICE_UNAVAILABLE: _("Temporarily unavailable (the database is busy); retry after `Retry-After` seconds"),
    HEALTH_SCORE_FAILED: _("Health score calculation failed"),
    SYNC_FAILED: _("Data synchronisation failed"),
}

# HTTP status -> default business code when a view raises a plain DRF/Django exception.
STATUS_DEFAULT_CODE = {
    400: VALIDATION_ERROR,
    401: NOT_AUTHENTICATED,
    403: PERMISSION_DENIED,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    406: NOT_ACCEPTABLE,
    409: CONFLICT,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
    429: THROTTLED,
    500: SERVER_ERROR,
    503: SERVICE_UNAVAILABLE,
}
