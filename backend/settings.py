"""Settings for Xinqiao, read from the environment only (see the README's configuration table).

``XINQIAO_ENV`` is ``production`` unless it says otherwise; production requires ``SECRET_KEY`` and
``FIELD_ENCRYPTION_KEYS``. Development and test read generated keys from ``var/dev-secrets.env``.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from backend import devkeys
from backend.env import env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
XINQIAO_ENV = env_choice("XINQIAO_ENV", ("production", "development", "test"), "production")
IS_PRODUCTION = XINQIAO_ENV == "production"
DATA_DIR = Path(env_str("XINQIAO_DATA_DIR", str(BASE_DIR / "var")))

_local = {} if IS_PRODUCTION else devkeys.load_or_create(DATA_DIR / "dev-secrets.env")
SECRET_KEY = env_str("SECRET_KEY", _local.get("SECRET_KEY"), required=True)
# Comma-separated Fernet keys, newest first: rotation adds a key in front and re-encrypts later.
_keys = env_str("FIELD_ENCRYPTION_KEYS", _local.get("FIELD_ENCRYPTION_KEYS"), required=True)
FIELD_ENCRYPTION_KEYS = [key.strip() for key in _keys.split(",") if key.strip()]
for _key in FIELD_ENCRYPTION_KEYS:
    if _key == SECRET_KEY:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must not reuse SECRET_KEY.")
    try:
        Fernet(_key.encode())
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes; generate with Fernet.generate_key())."
        ) from None

DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", [] if IS_PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "screening.core",
    "screening.directory",
    "screening.campaigns",
    "screening.riskmodels",
    "screening.cases",
    "screening.referrals",
    "exports",
    "screening.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "screening.core.context.RequestContextMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
AUTH_USER_MODEL = "core.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "screening.web.context.principal",
            ],
        },
    },
]

# --- Database: SQLite (WAL) by default, PostgreSQL through DATABASE_URL -------------------------
_default_db = f"sqlite:///{DATA_DIR / 'xinqiao.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _default_db),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers go on while one writer writes; IMMEDIATE takes the write lock at BEGIN
        # so two writers queue instead of failing with "database is locked" on upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif env_bool("DATABASE_SERVER_SIDE_BINDING", True):
    # Server-side parameters, and statements prepared from their second use on a (persistent)
    # connection: PostgreSQL then skips parsing and planning the hot path's statements, which
    # halved its CPU per submit (bench/submit_throughput.py). Turn off behind a pooler that
    # cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication --------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "screening.core.auth.StudentAccessCodeBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:staff-login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:staff-login"

# Lockout after repeated failures, per sign-in name (staff username or "SCHOOL/NUMBER" for students).
AXES_FAILURE_LIMIT = env_int("XINQIAO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("XINQIAO_LOGIN_LOCKOUT_MINUTES", 15, minimum=1) / 60
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "screening.core.auth.lockout_response"
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "screening.core.context.ip_of"  # the same trusted address as the audit log
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Lockout is per sign-in name, not per address: a whole school's students share one address
# behind the school's NAT, and locking by address would lock them all out at once.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = env_choice("XINQIAO_DEFAULT_LANGUAGE", ("zh-hans", "en"), "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("XINQIAO_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Outside production, whitenoise serves straight from the apps' static folders (no collectstatic).
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
if not IS_PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": DATA_DIR / "media"}},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
XINQIAO_ROSTER_MAX_BYTES = env_int("XINQIAO_ROSTER_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)

# --- API ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "backend.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "backend.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["backend.filters.ScopedFilterBackend"],
    # JSON only: the browsable API's forms list related objects without the access policy.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Xinqiao API",
    "DESCRIPTION": "Psychological screening for schools, counsellor follow-up and school–hospital referral.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CampaignStatusEnum": "screening.campaigns.models.Campaign.Status",
        "AssignmentStatusEnum": "screening.campaigns.models.Assignment.Status",
        "RosterImportStatusEnum": "screening.directory.models.RosterImport.Status",
        "CaseStatusEnum": "screening.cases.models.Case.Status",
        "CaseMoveStatusEnum": "screening.cases.api.MOVE_STATUSES",
        "CaseCloseReasonEnum": "screening.cases.models.Case.CloseReason",
        "FollowUpStatusEnum": "screening.cases.models.FollowUp.Status",
        "ContactKindEnum": "screening.cases.models.Contact.Kind",
        "ContactMethodEnum": "screening.cases.models.Contact.Method",
        "CaseEventKindEnum": "screening.cases.models.CaseEvent.Kind",
        "EscalationKindEnum": "screening.cases.api.ESCALATION_KINDS",
        "RiskModelStatusEnum": "screening.riskmodels.models.RiskModel.Status",
        "RiskModelKindEnum": "screening.riskmodels.models.RiskModel.Kind",
        "RiskScoreSourceEnum": "screening.riskmodels.models.RiskScore.Source",
        "ReferralDeclineReasonEnum": "screening.referrals.models.Referral.DeclineReason",
        "SharingConsentMethodEnum": "screening.referrals.models.SharingConsent.Method",
        "ExportKindEnum": "exports.models.ExportJob.Kind",
        "ExportJobStatusEnum": "exports.models.ExportJob.Status",
    },
}

# --- Background work: Celery with Redis in production, in-process without a broker -------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE

# --- E-mail -----------------------------------------------------------------------------------
# Django 6.1's MAILERS: SMTP when EMAIL_HOST is set, otherwise mail is printed to the console.
_email_host = env_str("EMAIL_HOST", "")
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": _email_host,
            "port": env_int("EMAIL_PORT", 587, minimum=1),
            "username": env_str("EMAIL_HOST_USER", ""),
            "password": env_str("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", True),
            "timeout": 20,
        },
    }
    if _email_host
    else {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "xinqiao@localhost")

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("XINQIAO_SESSION_MINUTES", 8 * 60, minimum=5) * 60
SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", IS_PRODUCTION)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY", IS_PRODUCTION) else None
# How many reverse proxies of ours stand in front of the app, each appending to X-Forwarded-For.
XINQIAO_TRUSTED_PROXY_HOPS = env_int("XINQIAO_TRUSTED_PROXY_HOPS", 1, minimum=1)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if IS_PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = IS_PRODUCTION
SECURE_HSTS_PRELOAD = IS_PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Xinqiao ----------------------------------------------------------------------------------
XINQIAO_LICENSED_TEXT_PACK = env_str("XINQIAO_LICENSED_TEXT_PACK", "")
XINQIAO_NATIONAL_HOTLINE = "12356"
# Links in e-mails (guardian consent, alerts) start with this; no trailing slash.
XINQIAO_PUBLIC_URL = env_str("XINQIAO_PUBLIC_URL", "" if IS_PRODUCTION else "http://127.0.0.1:8000", required=True).rstrip("/")
# How long screening answers and results are kept (told to guardians and students in the consent text).
XINQIAO_RETENTION_YEARS = env_int("XINQIAO_RETENTION_YEARS", 3, minimum=1)
# A guardian's signed link stays valid this many days (and never past the campaign's close).
XINQIAO_GUARDIAN_LINK_DAYS = env_int("XINQIAO_GUARDIAN_LINK_DAYS", 14, minimum=1)
# Guardians who have not answered are reminded every N days, at most M times.
XINQIAO_CONSENT_REMINDER_DAYS = env_int("XINQIAO_CONSENT_REMINDER_DAYS", 3, minimum=1)
XINQIAO_CONSENT_REMINDERS_MAX = env_int("XINQIAO_CONSENT_REMINDERS_MAX", 2, minimum=0)
# The timers: `celery -A backend beat` in production; `manage.py run_timers` without a broker.
CELERY_BEAT_SCHEDULE = {
    "consent-reminders": {"task": "screening.campaigns.tasks.send_consent_reminders", "schedule": 3600.0},
    "escalations": {"task": "screening.cases.tasks.run_escalations", "schedule": 60.0},
    "referral-limits": {"task": "screening.referrals.tasks.run_referral_timers", "schedule": 60.0},
    "referral-delivery": {"task": "screening.referrals.tasks.deliver_referral_messages", "schedule": 15.0},
    "export-expiry": {"task": "exports.tasks.expire_exports", "schedule": 3600.0},
    "export-leases": {"task": "exports.tasks.sweep_export_jobs", "schedule": 60.0},
}
# Export files are kept this many hours after they are done, then deleted (the job stays, marked expired).
XINQIAO_EXPORT_KEEP_HOURS = env_int("XINQIAO_EXPORT_KEEP_HOURS", 24, minimum=1)
# Export jobs run right after the request's commit, in the request's own thread: tests only, so that
# they are deterministic. Otherwise a Celery worker runs them (with a broker) or a background thread.
XINQIAO_EXPORTS_INLINE = env_bool("XINQIAO_EXPORTS_INLINE", XINQIAO_ENV == "test")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_choice("XINQIAO_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO")},
    # Request logs carry URLs only; URLs never carry names, answers or scores (DESIGN.md §4).
    "loggers": {"axes": {"level": "WARNING"}},
}
