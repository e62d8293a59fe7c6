"""Helpline settings: one module, read from environment variables (see README "Configuration")."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("HELPLINE_VAR_DIR", BASE_DIR.parent / "var"))

# Typed environment variables (healthchecks' envint/envbool): a value that does not parse stops
# the start-up with a message naming the variable, instead of a crash on first use.
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def _bad(name: str, value: str, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"The environment variable {name}={value!r} is not {expected}.")


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _bad(name, value, "a yes/no value (1, true, yes, on / 0, false, no, off)")


def env_int(name: str, default: int, minimum: int | None = 0) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise _bad(name, value, "a whole number") from None
    if minimum is not None and number < minimum:
        raise _bad(name, value, f"a whole number of at least {minimum}")
    return number


def env_float(name: str, default: float, minimum: float | None = 0) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise _bad(name, value, "a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _bad(name, value, "a finite number")
    if minimum is not None and number < minimum:
        raise _bad(name, value, f"a number of at least {minimum}")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int_map(name: str) -> dict[str, int]:
    """ "a=2,b=0" → {"a": 2, "b": 0}."""
    result = {}
    for item in env_list(name):
        key, sep, value = item.partition("=")
        try:
            number = int(value.strip()) if sep else -1
        except ValueError:
            number = -1
        if not key.strip() or number < 0:
            raise _bad(name, os.environ[name], "a list of name=whole number, comma-separated")
        result[key.strip()] = number
    return result


DEBUG = env_bool("DEBUG")
# A development key is only acceptable with DEBUG; checks.py refuses it in production.
DEV_SECRET_KEY = "helpline-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # Before django_tasks_db: its `db_worker` command is replaced by one that survives a lost
    # database connection and keeps a heartbeat (helpline/health/worker.py).
    "helpline.health",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks_db",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "helpline",
    "helpline.sla",
    "helpline.accounts",
    "helpline.tickets",
    "helpline.mail",
    "helpline.api",
    "helpline.automation",
    "helpline.reports",
    "helpline.search",
    "helpline.audit",
    "helpline.workspace",
]

MIDDLEWARE = [
    # First: it times every request, including those the others answer (helpline/health/metrics.py).
    "helpline.health.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Two-factor: marks request.user verified once a TOTP code was given this session, and keeps
    # a signed-in user with a device on the code page until then.
    "django_otp.middleware.OTPMiddleware",
    "helpline.accounts.twofactor.RequireVerifiedMiddleware",
    # Who changed the configuration: the audit log reads the actor from here.
    "helpline.audit.middleware.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Attachment storage that refuses a write: 503 with the reason (helpline/tickets/files.py).
    "helpline.tickets.files.StorageUnavailableMiddleware",
    "helpline.accounts.middleware.TimezoneMiddleware",
    # Last, as django-axes asks: it turns throttled logins into a lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpline.urls"
WSGI_APPLICATION = "helpline.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "portal:login"

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
                "django.template.context_processors.csp",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'helpline.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL and a busy timeout let a web process and a worker share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # Parallel query turns sub-millisecond index lookups into multi-millisecond plans.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c max_parallel_workers_per_gather=0"
    )
    # A connection pool per process (psycopg's, through Django): for many gunicorn threads or
    # workers on one PostgreSQL. Behind PgBouncer in transaction mode use neither this nor
    # server-side cursors (HELPLINE_DB_PGBOUNCER). See docs/scale.md.
    if env_bool("HELPLINE_DB_POOL"):
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env_int("HELPLINE_DB_POOL_MIN", 1),
            "max_size": env_int("HELPLINE_DB_POOL_MAX", 4, minimum=1),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
    if env_bool("HELPLINE_DB_PGBOUNCER"):
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True

# An optional read replica for reports, search and the API's ticket list (helpline/replica.py).
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = {
        **dj_database_url.parse(os.environ["DATABASE_REPLICA_URL"], conn_max_age=60),
        "OPTIONS": dict(DATABASES["default"].get("OPTIONS", {})),
        "TEST": {"MIRROR": "default"},
    }
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["replica"]["CONN_MAX_AGE"] = 0
DATABASE_ROUTERS = ["helpline.replica.PrimaryReplicaRouter"]

# Rate limits and other shared counters must hold across processes: keep them in the database.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "helpline_cache",
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling: after 5 failures for one account from one address, wait 15 minutes.
AXES_FAILURE_LIMIT = env_int("HELPLINE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_float("HELPLINE_LOGIN_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Every spelling of one account (username or email, any case) shares one failure counter.
AXES_USERNAME_CALLABLE = "helpline.accounts.throttle.sign_in_name"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True
HELPLINE_HOLIDAYS_COUNTRY = os.environ.get("HELPLINE_HOLIDAYS_COUNTRY", "US")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Attachments in S3-compatible object storage (django-storages) instead of MEDIA_ROOT: set the
# bucket; credentials come from the usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the
# instance's role). Objects stay private: downloads always pass Helpline's access check.
HELPLINE_S3_BUCKET = os.environ.get("HELPLINE_S3_BUCKET", "")
if HELPLINE_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": HELPLINE_S3_BUCKET,
            "endpoint_url": os.environ.get("HELPLINE_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("HELPLINE_S3_REGION") or None,
            "location": os.environ.get("HELPLINE_S3_PREFIX", ""),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

# Uploads: per-file and per-message limits (bytes / count), shown on forms.
HELPLINE_MAX_ATTACHMENT_BYTES = env_int("HELPLINE_MAX_ATTACHMENT_BYTES", 10 * 2**20)
HELPLINE_MAX_ATTACHMENTS = env_int("HELPLINE_MAX_ATTACHMENTS", 5)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 2**20
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 2**20

# Guest links (check status without an account).
HELPLINE_GUEST_LINK_DAYS = env_int("HELPLINE_GUEST_LINK_DAYS", 7, minimum=1)
HELPLINE_GUEST_LINK_SHOWN = env_bool("HELPLINE_GUEST_LINK_SHOWN")

# Portal rate limits: at most LIMIT per address (and per network address for guests) in WINDOW
# seconds, for opening tickets, guest status look-ups and registrations.
HELPLINE_PORTAL_TICKET_LIMIT = env_int("HELPLINE_PORTAL_TICKET_LIMIT", 5)
HELPLINE_PORTAL_TICKET_WINDOW = env_int("HELPLINE_PORTAL_TICKET_WINDOW", 600, minimum=1)
HELPLINE_PORTAL_LOOKUP_LIMIT = env_int("HELPLINE_PORTAL_LOOKUP_LIMIT", 10)
HELPLINE_PORTAL_LOOKUP_WINDOW = env_int("HELPLINE_PORTAL_LOOKUP_WINDOW", 600, minimum=1)
HELPLINE_PORTAL_REGISTER_LIMIT = env_int("HELPLINE_PORTAL_REGISTER_LIMIT", 10)
HELPLINE_PORTAL_REGISTER_WINDOW = env_int("HELPLINE_PORTAL_REGISTER_WINDOW", 600, minimum=1)

# REST API: requests per minute and key, unless the key sets its own (0: no limit).
HELPLINE_API_RATE_LIMIT = env_int("HELPLINE_API_RATE_LIMIT", 600)

# Webhooks go to public addresses only; these networks (comma-separated CIDRs, e.g.
# "10.20.0.0/16,fd00:1::/64") are allowed too, for a receiver on the local network.
HELPLINE_WEBHOOK_ALLOWED_NETWORKS: list[str] = env_list("HELPLINE_WEBHOOK_ALLOWED_NETWORKS")
# Delivery: seconds to wait for the receiver, the first retry's delay (doubling after each
# failure), and how many failures in a row disable the webhook.
HELPLINE_WEBHOOK_TIMEOUT = env_float("HELPLINE_WEBHOOK_TIMEOUT", 10.0)
HELPLINE_WEBHOOK_RETRY_SECONDS = env_float("HELPLINE_WEBHOOK_RETRY_SECONDS", 30.0)
HELPLINE_WEBHOOK_DISABLE_AFTER = env_int("HELPLINE_WEBHOOK_DISABLE_AFTER", 15, minimum=1)

# The outbox every mail goes through (helpline/tickets/delivery.py): the first retry's delay in
# seconds, doubling after each failed attempt up to RETRY_MAX; MAX_ATTEMPTS before a mail is
# marked failed; and the lease: how long a worker has to send a mail it claimed before another
# worker may (a mail queued that long ago and never tried is swept as well).
HELPLINE_MAIL_RETRY_SECONDS = env_float("HELPLINE_MAIL_RETRY_SECONDS", 60.0, minimum=0.01)
HELPLINE_MAIL_RETRY_MAX_SECONDS = env_float("HELPLINE_MAIL_RETRY_MAX_SECONDS", 3600.0, minimum=0.01)
HELPLINE_MAIL_MAX_ATTEMPTS = env_int("HELPLINE_MAIL_MAX_ATTEMPTS", 10, minimum=1)
HELPLINE_MAIL_LEASE_SECONDS = env_float("HELPLINE_MAIL_LEASE_SECONDS", 120.0, minimum=0.01)

# Lifecycle settings.
HELPLINE_PENDING_AUTO_CLOSE_DAYS = env_int("HELPLINE_PENDING_AUTO_CLOSE_DAYS", 14)
HELPLINE_RESOLVED_AUTO_CLOSE_DAYS = env_int("HELPLINE_RESOLVED_AUTO_CLOSE_DAYS", 7)
# Scheduler intervals in minutes by job name, e.g. "mark_overdue=2,purge_failed_mail=0" (0: off).
HELPLINE_JOB_MINUTES: dict[str, int] = env_int_map("HELPLINE_JOB_MINUTES")
HELPLINE_HELPDESK_NAME = os.environ.get("HELPLINE_HELPDESK_NAME", "Helpline")
HELPLINE_DEFAULT_FROM = os.environ.get("DEFAULT_FROM_EMAIL", "support@helpline.example")

# Mail in and out (README "Email"; the trust model in README "Mail you can trust").
HELPLINE_MAIL_DOMAIN = os.environ.get("HELPLINE_MAIL_DOMAIN", "")
HELPLINE_MAIL_REOPEN_CLOSED_DAYS = env_int("HELPLINE_MAIL_REOPEN_CLOSED_DAYS", 30)
HELPLINE_MAIL_CC_COLLABORATORS = env_bool("HELPLINE_MAIL_CC_COLLABORATORS", True)
# How long the signed reply token in a notification verifies its recipient's answer.
HELPLINE_MAIL_REPLY_TOKEN_DAYS = env_int("HELPLINE_MAIL_REPLY_TOKEN_DAYS", 180)
# Acknowledgements ("we got your message") per address: at most LIMIT in LIMIT_MINUTES.
HELPLINE_ACK_LIMIT = env_int("HELPLINE_ACK_LIMIT", 5)
HELPLINE_ACK_LIMIT_MINUTES = env_int("HELPLINE_ACK_LIMIT_MINUTES", 60, minimum=1)
DEFAULT_FROM_EMAIL = HELPLINE_DEFAULT_FROM

TASKS = {
    "default": {
        "BACKEND": os.environ.get("HELPLINE_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# Task workers (`helpline worker`, README "Running unattended"): a worker writes its heartbeat
# every HEARTBEAT seconds; a RUNNING task whose worker has not beaten for LEASE seconds is put
# back in the queue by any living worker. After a lost database connection a worker waits
# RECONNECT_MIN seconds, doubling up to RECONNECT_MAX, and tries again, for ever.
HELPLINE_WORKER_HEARTBEAT_SECONDS = env_float("HELPLINE_WORKER_HEARTBEAT_SECONDS", 5.0, minimum=0.1)
HELPLINE_WORKER_LEASE_SECONDS = env_float("HELPLINE_WORKER_LEASE_SECONDS", 30.0, minimum=1)
HELPLINE_WORKER_RECONNECT_MIN_SECONDS = env_float(
    "HELPLINE_WORKER_RECONNECT_MIN_SECONDS", 0.5, minimum=0.01
)
HELPLINE_WORKER_RECONNECT_MAX_SECONDS = env_float(
    "HELPLINE_WORKER_RECONNECT_MAX_SECONDS", 30.0, minimum=0.01
)
# A task that lost its worker or its database connection this many times is failed, not re-run.
HELPLINE_WORKER_MAX_RECOVERIES = env_int("HELPLINE_WORKER_MAX_RECOVERIES", 5, minimum=1)
# Health panel and /healthz?deep=1: when waiting work turns the light red (seconds), and how
# long a mailbox may go without a fetch (minutes) or the scheduler without a run (minutes).
HELPLINE_HEALTH_TASK_AGE_SECONDS = env_int("HELPLINE_HEALTH_TASK_AGE_SECONDS", 120, minimum=1)
HELPLINE_HEALTH_OUTBOX_AGE_SECONDS = env_int("HELPLINE_HEALTH_OUTBOX_AGE_SECONDS", 600, minimum=1)
HELPLINE_HEALTH_FETCH_MINUTES = env_int("HELPLINE_HEALTH_FETCH_MINUTES", 15, minimum=1)
HELPLINE_HEALTH_SCHEDULER_MINUTES = env_int("HELPLINE_HEALTH_SCHEDULER_MINUTES", 5, minimum=1)
# Prometheus /metrics: answered only to `Authorization: Bearer <token>`; empty: no endpoint.
HELPLINE_METRICS_TOKEN = os.environ.get("HELPLINE_METRICS_TOKEN", "")

# Outgoing mail (Django 6.1 MAILERS). Without SMTP_HOST, mail is written to the console in DEBUG.
if os.environ.get("SMTP_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ["SMTP_HOST"],
                "port": env_int("SMTP_PORT", 25, minimum=1),
                "username": os.environ.get("SMTP_USER", ""),
                "password": os.environ.get("SMTP_PASSWORD", ""),
                "use_tls": env_bool("SMTP_STARTTLS"),
                "use_ssl": env_bool("SMTP_SSL"),
                "timeout": 30,
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}

# Content-Security-Policy (Django 6): scripts only from us or with the per-request nonce;
# inline style attributes stay allowed.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("HTTPS")
CSRF_COOKIE_SECURE = env_bool("HTTPS")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("HTTPS"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        "helpline": {"level": os.environ.get("LOG_LEVEL", "INFO")},
        # One line per task state change is noise in a terminal; failures still show.
        "django.tasks": {"level": os.environ.get("TASKS_LOG_LEVEL", "WARNING")},
        "django_tasks_db": {"level": os.environ.get("TASKS_LOG_LEVEL", "WARNING")},
    },
}
