"""Riskshare settings: the only module that reads the environment.

Every value comes from an environment variable (or, for secrets, a file named
by ``NAME_FILE``) through the typed helpers in ``config.env``; the README lists
each one with its default. With nothing configured the platform runs on the
embedded default: SQLite and a filesystem broker under ``var/``, with secrets
generated there once. ``RISKSHARE_PRODUCTION=true`` turns every default that is
only fit for a laptop into a refusal to start.
"""

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config import keyring
from config.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
    env_str,
    refuse_degenerate_key,
    refuse_shared_keys,
    refuse_weak_secret_key,
    refuse_wildcard_hosts,
)
from memberkit import vocabulary

# Lets Django's generic classes be subscripted at run time, as the type stubs expect.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("RISKSHARE_VAR_DIR", str(BASE_DIR / "var")))

PRODUCTION = env_bool("RISKSHARE_PRODUCTION", False)
# The embedded default generates missing secrets into var/secrets; production never does.
GENERATED_SECRETS_DIR = None if PRODUCTION else VAR_DIR / "secrets"

# In production a secret file that others may read stops the start (generated ones are 0600).
PRIVATE_FILES = PRODUCTION

SECRET_KEY = env_secret("SECRET_KEY", generate_into=GENERATED_SECRETS_DIR, private_file=PRIVATE_FILES)
if PRODUCTION:
    refuse_weak_secret_key("SECRET_KEY", SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when RISKSHARE_PRODUCTION is on.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the platform's host names in production.")
if PRODUCTION:
    refuse_wildcard_hosts("ALLOWED_HOSTS", ALLOWED_HOSTS)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# How many reverse proxies in front of the platform append to X-Forwarded-For.
# 0 means the peer address is the client; never trust the header beyond that. Production must
# say: guessing 0 behind a proxy would make every client look like the proxy to the lockout
# and to API-key allow-lists.
NUM_PROXIES = env_int("NUM_PROXIES", None if PRODUCTION else 0, minimum=0, maximum=5)

INSTALLED_APPS = [
    "accounts.apps.OperatorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "health_check",
    "accounts",
    "sharing",
    "portal",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "config.middleware.ApiNoStoreMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.idle.IdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: PostgreSQL in production, SQLite under var/ by default.
CONN_MAX_AGE = env_int("CONN_MAX_AGE", 60, minimum=0)
DATABASE_URL = env_secret(
    "DATABASE_URL",
    default=None if PRODUCTION else f"sqlite:///{VAR_DIR / 'riskshare.sqlite3'}",
    private_file=PRIVATE_FILES,
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if PRODUCTION:
        raise ImproperlyConfigured("Production runs on PostgreSQL: set DATABASE_URL.")
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets readers and one writer work side by side; IMMEDIATE takes the write
    # lock at BEGIN, so web and worker wait for each other (busy_timeout) instead
    # of failing with "database is locked" halfway through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests run on a file too, not Django's shared in-memory database: a real worker thread and
    # the test then share the embedded default's WAL behaviour instead of shared-cache table locks.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-riskshare.sqlite3")}
# PostgreSQL prepares the few statements every API request runs and plans each once, generically
# (accounts/prepared.py); off for a pooler that cannot keep a session's prepared statements.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_PREPARED_STATEMENTS:
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # Django disables psycopg's preparing; its client-side cursors never prepare whatever this says,
    # so only accounts.prepared's cursors do, on a statement's first execution.
    _options["prepare_threshold"] = 0
    _options["options"] = f"{_options.get('options', '')} -c plan_cache_mode=force_generic_plan".strip()
# Every request is one transaction: an action and what it records commit or roll back together.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.InstitutionModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"


def _signing_key(name: str) -> str:
    """An Ed25519 signing key from ``name`` (or ``name``_FILE; generated if unset): 64 hex characters, its seed."""
    value = env_secret(
        name, generate_into=GENERATED_SECRETS_DIR, generator=lambda: secrets.token_hex(32), private_file=PRIVATE_FILES
    )
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise ImproperlyConfigured(f"{name} must be 64 hexadecimal characters (an Ed25519 seed).")
    return value


# The audit trail. Recording is switched off only by benchmarks that measure its cost
# (bench/); it has no environment variable, so no deployment can turn it off.
AUDIT_RECORDING = True
# The Ed25519 key that signs audit checkpoints: 64 hexadecimal characters (its 32-byte seed).
AUDIT_SIGNING_KEY = _signing_key("AUDIT_SIGNING_KEY")
AUDIT_SEAL_MINUTES = env_int("AUDIT_SEAL_MINUTES", 5, minimum=1, maximum=60)

# Regulators' reports (docs/reports.md). The Ed25519 key that signs report files, a key of its
# own so that it can be published and replaced apart from the audit trail's: 64 hex characters.
REPORT_SIGNING_KEY = _signing_key("REPORT_SIGNING_KEY")
# When the monthly report of the month before is built: a crontab line (minute hour day month weekday).
REPORT_SCHEDULE = env_str("REPORT_SCHEDULE", "30 6 1 * *")
try:
    _minute, _hour, _day, _month, _weekday = REPORT_SCHEDULE.split()  # crontab's order, not Celery's
    _report_schedule = crontab(
        minute=_minute, hour=_hour, day_of_month=_day, month_of_year=_month, day_of_week=_weekday
    )
except ValueError as error:
    raise ImproperlyConfigured(f"REPORT_SCHEDULE must be a crontab line of five fields: {error}.") from None


# Flags. The platform pepper keys every member token again (docs/identifiers.md, section 4);
# the master key wraps each institution's data key for flag details (docs/architecture.md).
# Both are keyrings, one "version hex" line per key, newest last; neither is ever in the database.
# sharing.keys names what they hold (Peppers, MasterKeys); here they are read, and refused at start if bad.
def _keyring(name: str, rules: keyring.Rules) -> keyring.Keyring:
    text = env_secret(
        name,
        generate_into=GENERATED_SECRETS_DIR,
        generator=lambda: f"1 {secrets.token_hex(32)}",
        private_file=PRIVATE_FILES,
    )
    try:
        return keyring.Keyring.parse(text, rules)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}.") from None


PLATFORM_PEPPERS = _keyring("PLATFORM_PEPPER", keyring.PEPPER)
DETAILS_MASTER_KEYS = _keyring("DETAILS_MASTER_KEY", keyring.MASTER_KEY)
if PRODUCTION:
    # Zeros or a pattern, or one key in two roles, would leave a secret that is no secret.
    _keys = {
        "AUDIT_SIGNING_KEY": [bytes.fromhex(AUDIT_SIGNING_KEY)],
        "REPORT_SIGNING_KEY": [bytes.fromhex(REPORT_SIGNING_KEY)],
        "PLATFORM_PEPPER": list(PLATFORM_PEPPERS.by_version.values()),
        "DETAILS_MASTER_KEY": list(DETAILS_MASTER_KEYS.by_version.values()),
    }
    for _name, _values in _keys.items():
        for _key in _values:
            refuse_degenerate_key(_name, _key)
    refuse_shared_keys(_keys)
FLAG_BATCH_MAX = 1000
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 4 * 1024**3, minimum=1024)
UPLOAD_MAX_ROWS = env_int("UPLOAD_MAX_ROWS", 10_000_000, minimum=1)
UPLOAD_CHUNK_ROWS = env_int("UPLOAD_CHUNK_ROWS", 50_000, minimum=1)
# A running upload whose checkpoint has not moved for this long is handed to another worker.
UPLOAD_STALL_MINUTES = env_int("UPLOAD_STALL_MINUTES", 15, minimum=1, maximum=59)
# A JSON batch of 1,000 flags with details fits well within this; files go as multipart uploads.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 8 * 1024**2, minimum=1024)
IDEMPOTENCY_KEY_HOURS = 24
# Matching: consortium policy (docs/matching.md). A member that has contributed nothing for
# MATCH_RECIPROCITY_DAYS may not query; with MATCH_OWN_CATEGORIES_ONLY it sees only the categories
# it contributes itself (protective identity_theft flags always). Quotas count subjects.
MATCH_RECIPROCITY_DAYS = env_int("MATCH_RECIPROCITY_DAYS", 90, minimum=1)
MATCH_OWN_CATEGORIES_ONLY = env_bool("MATCH_OWN_CATEGORIES_ONLY", True)
MATCH_DAILY_QUOTA = env_int("MATCH_DAILY_QUOTA", 200_000, minimum=1)
MATCH_RATE_PER_MINUTE = env_int("MATCH_RATE_PER_MINUTE", 6_000, minimum=1)
QUERY_SUBJECTS_MAX = vocabulary.SUBJECTS_MAX  # the member kit sends batches of this size
# A member's dashboard counts its institution's flags at most once in this many seconds (per
# process: the cache is each process's own memory; nothing else is cached).
DASHBOARD_COUNTS_SECONDS = env_int("DASHBOARD_COUNTS_SECONDS", 120, minimum=0)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# An inspection's file is matched in parts of this many rows, by as many workers as there are.
INSPECTION_PART_ROWS = env_int("INSPECTION_PART_ROWS", 250_000, minimum=1)
# Every worker records that it is alive every WORKER_HEARTBEAT_SECONDS (sharing/heartbeat.py);
# with none seen for WORKER_HEARTBEAT_STALE_SECONDS, /readyz reports workers down and job pages
# say that no worker is running.
WORKER_HEARTBEAT_SECONDS = 20
WORKER_HEARTBEAT_STALE_SECONDS = env_int("WORKER_HEARTBEAT_STALE_SECONDS", 90, minimum=3 * WORKER_HEARTBEAT_SECONDS)

# Sign-in lockout (django-axes): per user name and source address, and per address across user
# names with a higher limit, so that spraying many names from one address is stopped too
# (accounts.backends.LockoutHandler).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_ADDRESS_FAILURE_LIMIT = env_int("AXES_ADDRESS_FAILURE_LIMIT", 20, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "accounts.backends.LockoutHandler"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.account.locked_out"
AXES_CLIENT_IP_CALLABLE = "accounts.network.client_ip_for_axes"
AXES_VERBOSE = False

# Sessions: short-lived, never readable from scripts; ended after SESSION_IDLE_MINUTES without a
# request (accounts.idle), and after SESSION_COOKIE_AGE whatever the activity.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30, minimum=2)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Transport security. On by default in production, where TLS ends at a proxy.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", PRODUCTION) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^readyz/traffic$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
# A strict Content-Security-Policy on every answer (django-csp): scripts, styles and everything
# else only from the platform's own origin, no inline script or style, no plugins, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Languages: the portal speaks zh-Hans first, and English.
LANGUAGE_CODE = env_choice("LANGUAGE_CODE", "zh-hans", ("zh-hans", "en"))
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise serves static files from gunicorn; on the embedded default it also finds
# them in the apps, so a newcomer's run works before collectstatic has ever been run.
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Uploaded flag files wait here until their job ends: a folder under var/ by default, S3-compatible
# object storage (django-storages) with UPLOAD_STORAGE=s3. They are never served over HTTP.
UPLOAD_STORAGE = env_choice("UPLOAD_STORAGE", "filesystem", ("filesystem", "s3"))
if UPLOAD_STORAGE == "s3":
    if not env_str("UPLOAD_S3_BUCKET", ""):
        raise ImproperlyConfigured("UPLOAD_STORAGE=s3 needs UPLOAD_S3_BUCKET.")
    UPLOADS_BACKEND: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("UPLOAD_S3_BUCKET", ""),
            "endpoint_url": env_str("UPLOAD_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("UPLOAD_S3_REGION", "") or None,
            "access_key": env_secret("UPLOAD_S3_ACCESS_KEY_ID", private_file=PRIVATE_FILES),
            "secret_key": env_secret("UPLOAD_S3_SECRET_ACCESS_KEY", private_file=PRIVATE_FILES),
            "location": env_str("UPLOAD_S3_PREFIX", "uploads"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    UPLOADS_BACKEND = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "uploads"), "base_url": None},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "uploads": UPLOADS_BACKEND,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Fail closed: a view that forgets to name its permissions answers 403 to everyone.
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.DenyAll"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser, refusing deep nesting and text no field can store (config/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "accounts.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.problems.exception_handler",
    "NUM_PROXIES": NUM_PROXIES,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Riskshare API",
    "DESCRIPTION": "Risk-flag sharing between member lenders, under a regulator's eye.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.choices.Role",
        "ScopeEnum": "accounts.choices.Scope",
        "InstitutionKindEnum": "accounts.choices.InstitutionKind",
        "InstitutionStatusEnum": "accounts.choices.InstitutionStatus",
        "FlagStatusEnum": "sharing.choices.FlagStatus",
        "FlagChangeEnum": "sharing.choices.FLAG_CHANGES",
        "UploadStatusEnum": "sharing.choices.JobStatus",  # its name in the schema since uploads came first
        "FileFormatEnum": "sharing.choices.FileFormat",
        "IdTypeEnum": "sharing.choices.IdType",  # a subject's, a flag's and a loan's identifiers, flat or listed
        "AmountBandEnum": "sharing.choices.AmountBand",  # a flag's, a loan's, and a total of open loans
        "UploadKindEnum": "sharing.choices.UploadKind",  # an upload's kind, and the kind of file sent
    },
}

# Celery: the broker is RabbitMQ or Redis in production, a folder under var/ by default.
CELERY_BROKER_URL = env_secret(
    "CELERY_BROKER_URL", default=None if PRODUCTION else "filesystem://localhost//", private_file=PRIVATE_FILES
)
BROKER_SCHEME = urlsplit(CELERY_BROKER_URL).scheme
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
if BROKER_SCHEME == "filesystem":
    if PRODUCTION:
        raise ImproperlyConfigured("Production runs on RabbitMQ or Redis: set CELERY_BROKER_URL.")
    BROKER_DIR = VAR_DIR / "broker"
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
elif BROKER_SCHEME in ("redis", "rediss"):
    # An unacknowledged task returns to the queue after this long; it must outlast the longest task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 2}
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "riskshare")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # Job rows in the database carry status and progress.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")


def _beat(task: str, schedule: crontab, expires: int = 3600) -> dict[str, Any]:
    """A beat entry: ``task`` on ``schedule``, dropped unless started within ``expires`` seconds."""
    return {"task": task, "schedule": schedule, "options": {"expires": expires}}


CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": _beat("accounts.tasks.clear_expired_sessions", crontab(minute=17, hour=3)),
    "seal-audit-events": _beat(
        "accounts.tasks.seal_audit_events",
        crontab(minute=f"*/{AUDIT_SEAL_MINUTES}"),
        expires=AUDIT_SEAL_MINUTES * 60 - 10,
    ),
    "verify-audit-trail": _beat("accounts.tasks.verify_audit_trail", crontab(minute=7, hour=2)),
    "apply-flag-retention": _beat("sharing.tasks.apply_retention", crontab(minute=23, hour=1)),
    "resume-stalled-uploads": _beat(
        "sharing.tasks.resume_stalled_uploads",
        crontab(minute=f"*/{UPLOAD_STALL_MINUTES}"),
        expires=UPLOAD_STALL_MINUTES * 60 - 10,
    ),
    "prune-usage-counters": _beat("sharing.tasks.prune_usage_counters", crontab(minute=41, hour=3)),
    "prune-idempotency-keys": _beat("sharing.tasks.prune_idempotency_keys", crontab(minute=37, hour=3)),
    "build-monthly-report": _beat("sharing.tasks.build_monthly_report", _report_schedule, expires=6 * 3600),
    "prune-sign-in-logs": _beat("accounts.tasks.prune_sign_in_logs", crontab(minute=47, hour=3)),
}

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "config.middleware.RequestIdLogFilter"},
        # On every handler: exceptions are logged by type and frames, never by message (config/logs.py).
        "scrub": {"()": "config.logs.ScrubExceptions"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id", "scrub"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # At DEBUG it logs every statement with its values: tokens, references, sealed details.
        "django.db.backends": {"level": "INFO"},
    },
}
