"""Django settings: every value that differs between machines comes from the environment.

See `.env.example` for the variables and their defaults.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from crm_project.env import (
    ConfigError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    parse_redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("CRM_DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _development_secret_key() -> str:
    """Generated once and kept in the data folder, so sessions survive restarts; never committed."""
    key_file = DATA_DIR / "secret_key.txt"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or _development_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "django_htmx",
    "csp",
    "crm_project",
    "accounts",
    "customers",
    "privacy",
    "contracts",
    "service_records",
    "communications",
    "health",
    "success_tasks",
    "portal",
    "segments",
    "analytics",
    "webhooks",
]

MIDDLEWARE = [
    "crm_project.middleware.TraceIdMiddleware",
    "crm_project.middleware.DatabaseBusyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "crm_project.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.TenantMiddleware",
    "accounts.stepup.ForceEnrollmentMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "crm_project.db_router.ReplicaReadsMiddleware",
]

ROOT_URLCONF = "crm_project.urls"
WSGI_APPLICATION = "crm_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------------------------
DATABASES = {
    "default": parse_database_url("DATABASE_URL", env_str("DATABASE_URL", f"sqlite:///{DATA_DIR}/crm.sqlite3"))
}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Read replica for reports and analytics (crm_project/db_router.py); unset: everything reads from `default`.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = parse_database_url("DATABASE_REPLICA_URL", DATABASE_REPLICA_URL)
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}  # tests read the replica through the default test DB
DATABASE_ROUTERS = ["crm_project.db_router.ReplicaRouter"]
# Report and analytics pages (URL names) whose GET requests read from the replica.
DATABASE_REPLICA_URL_NAMES = env_list(
    "DATABASE_REPLICA_URL_NAMES",
    ["service_records:quality", "health:backtest", "health:models", "analytics:dashboard"],
)

# --- Redis: broker, results and cache; unset means the embedded mode -------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    parse_redis_url("REDIS_URL", REDIS_URL)
    CACHES = {
        "default": {
            "BACKEND": "crm_project.cache.PooledRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "crm"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "crm-default",
        }
    }

# --- Celery ---------------------------------------------------------------------------------------------------------
CELERY_EMBEDDED = not REDIS_URL
CELERY_BROKER_DIR = DATA_DIR / "broker"
if CELERY_EMBEDDED:
    # No Redis server: a folder on disk is the queue, so `make run` needs nothing but Python.
    for sub in ("out", "processed", "control"):
        (CELERY_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "out"),
        "data_folder_out": str(CELERY_BROKER_DIR / "out"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = None
    CELERY_TASK_IGNORE_RESULT = True
else:
    # The broker may be RabbitMQ instead of Redis (docs/decisions.md): CELERY_BROKER_URL=amqp://user:pass@host:5672//;
    # Redis stays the cache and the result backend.
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_IGNORE_RESULT = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = env_str("TIME_ZONE", "Asia/Shanghai")
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The worker logs through LOGGING (and its personal-data mask) instead of replacing the root handlers with its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Job runs: a heartbeat while the job runs; a running row silent for longer is "abandoned" (worker lost).
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 60, minimum=0)
JOB_ABANDONED_AFTER_SECONDS = env_int("JOB_ABANDONED_AFTER_SECONDS", 900, minimum=1)

# --- Auth -----------------------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.CachedModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

# Lockout after repeated failures (django-axes): per username + IP, on the login page and the token endpoint.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Second factor: a sensitive action (export, delete, merge, amounts, roles) asks again after this window.
STEP_UP_WINDOW_SECONDS = env_int("STEP_UP_WINDOW_SECONDS", 600, minimum=60)
AXES_IPWARE_PROXY_COUNT = env_int("PROXY_COUNT", 0, minimum=0) or None

# --- Sessions and security ------------------------------------------------------------------------------------------
SECURE_COOKIES = env_bool("SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_AGE_SECONDS", 8 * 3600, minimum=300)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS in production: redirect plain HTTP (except the health check) and tell browsers to stay on HTTPS.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# Content-Security-Policy on every page (django-csp): scripts and styles only from our own static files, no
# inline script, no framing. A view that needs more says so in CSP_VIEW_UPDATES (by URL name).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
CSP_VIEW_UPDATES = {
    # A generated contract document carries its own <style> (sanitised HTML; scripts stay forbidden).
    "contracts:contract_document": {"style-src": ["'unsafe-inline'"]},
    # Swagger UI sets inline styles; its scripts are files (SpectacularSwaggerSplitView).
    "api-docs": {"style-src": ["'unsafe-inline'"]},
}

# --- Internationalisation -------------------------------------------------------------------------------------------
LANGUAGE_CODE = env_choice("LANGUAGE_CODE", "zh-hans", ["zh-hans", "en"])
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ConfigError(f"TIME_ZONE must be an IANA zone such as Asia/Shanghai, got {TIME_ZONE!r}") from None
USE_I18N = True
USE_TZ = True

# --- Static files (served by whitenoise in every mode, so DEBUG=false looks like development) -----------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from the app folders when collectstatic has not run

# --- E-mail ---------------------------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "crm@localhost")

# --- REST API -------------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Service-account API tokens (`Bearer crm_…`) first; any other bearer value is left to the JWT
        # authenticator. Both answer the same `Bearer realm="api"` challenge as the WWW-Authenticate header.
        "accounts.api_tokens.ApiTokenAuthentication",
        "accounts.authentication.TenantJWTAuthentication",
        "accounts.authentication.TenantSessionAuthentication",
    ],
    # Fail closed: a view that does not declare `required_perms` for a method refuses it.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "crm_project.api.permissions.RolePermission",
    ],
    "DEFAULT_RENDERER_CLASSES": ["crm_project.api.renderers.EnvelopeJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["crm_project.api.parsers.SafeJSONParser"],
    "DEFAULT_METADATA_CLASS": "crm_project.api.metadata.MethodsMetadata",
    "DEFAULT_PAGINATION_CLASS": "crm_project.api.pagination.PageSizePagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "crm_project.api.sorting.SortFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["crm_project.api.throttling.UserThrottle", "crm_project.api.throttling.IPThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_RATE_USER", "1200/min"),
        "ip": env_str("API_RATE_IP", "2400/min"),
    },
    "EXCEPTION_HANDLER": "crm_project.api.exceptions.envelope_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DATETIME_FORMAT": "%Y-%m-%d %H:%M:%S",
    "DATETIME_INPUT_FORMATS": ["%Y-%m-%d %H:%M:%S", "iso-8601"],
    "DATE_FORMAT": "%Y-%m-%d",
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": env_int("PROXY_COUNT", 0, minimum=0) or None,
}
API_MAX_PAGE_SIZE = 100

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=2),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Tokens carry a hash of the password: a password change or reset ends every token issued before it.
    "CHECK_REVOKE_TOKEN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Customer Success CRM API",
    "DESCRIPTION": (
        "Every answer is wrapped in the envelope {code, message, data, timestamp, trace_id}. "
        "`code` is 200/201 on success, otherwise a business code (see the ErrorCode schema)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # 17 tags and ~130 operations: the page opens with the tags folded (and a filter box). Fully expanded, this
    # Swagger UI stopped rendering after the third tag.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "docExpansion": "none", "filter": True},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm_project.api.schema.wrap_in_envelope",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status`: each choice set gets its own readable name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatusEnum": "customers.choices.CustomerStatus",
        "ContractStatusEnum": "contracts.choices.ContractStatus",
        "ChangeRequestStatusEnum": "contracts.choices.ChangeStatus",
        "InvoiceStatusEnum": "contracts.choices.InvoiceStatus",
        "InfluenceLevelEnum": "customers.choices.InfluenceLevel",
        "CustomerLevelEnum": "customers.choices.CustomerLevel",
        "ScoreSourceEnum": ["model", "rules"],
        "WebhookEventTypeEnum": "webhooks.models.EventType",
        "WebhookDeliveryStatusEnum": "webhooks.models.DeliveryStatus",
        "PrivacyRequestKindEnum": "privacy.models.RequestKind",
    },
}

# --- Logging: every line carries the trace id -----------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "trace_id": {"()": "crm_project.middleware.TraceIdLogFilter"},
        # Phone numbers and e-mail addresses never reach a log line in clear (PRD 7.3.2).
        "mask_personal_data": {"()": "crm_project.logmask.PersonalDataLogFilter"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(trace_id)s] %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["trace_id", "mask_personal_data"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}

# --- Field encryption (crm_project/crypto.py, docs/security.md) ---------------------------------------------------
# Fernet keys, newest first; unset = one key derived from SECRET_KEY (development and tests only).
CRM_FIELD_KEYS = env_list("CRM_FIELD_KEYS", [])
# HMAC key of the blind indexes; unset = derived from SECRET_KEY with its own label.
CRM_BLIND_INDEX_KEY = env_str("CRM_BLIND_INDEX_KEY", "")

# Days to answer a data-subject request: PIPL art. 50 asks for "timely", GB/T 35273-2020 8.7 for 15 working days at
# the latest, GDPR art. 12(3) for one month. 15 calendar days is within all three (docs/security.md).
PRIVACY_REQUEST_DEADLINE_DAYS = env_int("PRIVACY_REQUEST_DEADLINE_DAYS", 15, minimum=1)

# --- Product settings -----------------------------------------------------------------------------------------------
CRM_DEMO_PASSWORD = env_str("CRM_DEMO_PASSWORD", "demo-pass-2025")
# (management command, options) run by `seed_demo` after the demo tenant and users exist.
CRM_DEMO_DATA_COMMANDS = [
    ("generate_demo", {"customers": 80, "seed": 20250815}),
    ("seed_contract_templates", {}),
]
NOTIFICATION_RETENTION_DAYS = env_int("NOTIFICATION_RETENTION_DAYS", 90, minimum=1)
# Days after the last contract ends before a formal customer without renewal counts as lost.
CONTRACT_RENEWAL_GRACE_DAYS = env_int("CONTRACT_RENEWAL_GRACE_DAYS", 30, minimum=0)
# Days without contact before the manager of a customer of this level is reminded (0 = never).
CONTACT_INTERVAL_STRATEGIC_DAYS = env_int("CONTACT_INTERVAL_STRATEGIC_DAYS", 14, minimum=0)
CONTACT_INTERVAL_VIP_DAYS = env_int("CONTACT_INTERVAL_VIP_DAYS", 30, minimum=0)
CONTACT_INTERVAL_IMPORTANT_DAYS = env_int("CONTACT_INTERVAL_IMPORTANT_DAYS", 60, minimum=0)
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
CSRF_FAILURE_VIEW = "crm_project.views.csrf_failure"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder before collectstatic

# --- Outgoing webhooks (webhooks app) -------------------------------------------------------------------------------
# Targets on loopback/private addresses are refused (SSRF guard) unless this is set (tests, a closed network).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
WEBHOOK_BACKOFF_SECONDS = env_int("WEBHOOK_BACKOFF_SECONDS", 30, minimum=1)  # 30 s, 60 s, 120 s, ... capped
WEBHOOK_BACKOFF_MAX_SECONDS = env_int("WEBHOOK_BACKOFF_MAX_SECONDS", 3600, minimum=1)
WEBHOOK_BREAKER_THRESHOLD = env_int("WEBHOOK_BREAKER_THRESHOLD", 5, minimum=1)  # consecutive failures to open
WEBHOOK_BREAKER_COOLDOWN_SECONDS = env_int("WEBHOOK_BREAKER_COOLDOWN_SECONDS", 300, minimum=1)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)

# --- Backups: `manage.py backup` encrypts with this key (a Fernet key; `manage.py backup --generate-key`) ----------
CRM_BACKUP_KEY = env_str("CRM_BACKUP_KEY")
