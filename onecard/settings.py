"""OneCard settings: everything that differs between machines comes from the environment."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG: bool = env.bool("DEBUG", default=False)
SECRET_KEY: str = env.str("SECRET_KEY", default="onecard-insecure-demo-key-change-me-in-production")
ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"]
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here: card offices may have no internet
    "django_q",
    "core",
    "accounts",
    "terminals",
    "settlement",
    "access",
    "attendance",
    "onecard",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "onecard.urls"
WSGI_APPLICATION = "onecard.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'onecard.sqlite3'}"
    ),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep connections between requests (a new one per request costs more than a batch's
# statements); checked before reuse so a restarted database is survived.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo database: writers queue instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DATABASES["default"].setdefault("TEST", {})
# A process that serves bulk work (the bulk upload pool) sets its database backends'
# CPU priority too (nice 0-19, 0: unchanged), so that on a shared machine the live
# requests' queries go first; needs the `prioritize` extension (core.db).
DB_BACKEND_NICE = env.int("DB_BACKEND_NICE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE: str = env.str("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE: str = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.TokenWithRolesAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OneCard API",
    "DESCRIPTION": "Operations API (card office, finance, integrations) and terminal protocol.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for a choice set used by several fields (top-up method, deposit method).
    "ENUM_NAME_OVERRIDES": {"TopUpMethodEnum": "accounts.models.TopUpMethod",
                            "ExceptionStatusEnum": "settlement.models.ExceptionStatus",
                            "ExceptionCodeEnum": "settlement.models.ExceptionCode",
                            "AlarmKindEnum": "access.models.AlarmKind",
                            "CardholderKindEnum": "accounts.models.CardholderKind",
                            "LeaveKindEnum": "attendance.models.LeaveKind",
                            "RoundingDirectionEnum": "attendance.models.RoundingDirection",
                            "DoorDirectionEnum": "access.models.DoorDirection"},
    # drf-spectacular's own hook first; then every error code on the error body's `code`.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "onecard.error_catalogue.error_code_enum"],
}

Q_CLUSTER = {
    "name": "onecard",
    "workers": 2,
    "timeout": 3600,
    "retry": 4000,
    "orm": "default",
    "catch_up": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}

# --- OneCard business settings (all money in fen) ---
ONECARD_MAX_BALANCE: int = env.int("ONECARD_MAX_BALANCE", default=1_000_000)
ONECARD_CANCELLATION_FEE: int = env.int("ONECARD_CANCELLATION_FEE", default=0)
# The contract refunds "account balances": subsidy included. Institutions that reclaim
# unspent subsidy instead set this to false; it then returns to the subsidy fund.
ONECARD_REFUND_SUBSIDY: bool = env.bool("ONECARD_REFUND_SUBSIDY", default=True)
# Key-encryption key: 64 hex chars, from the environment or a file; never from the database.
ONECARD_KEK: str = env.str("ONECARD_KEK", default="")
ONECARD_KEK_FILE: str = env.str("ONECARD_KEK_FILE", default="")
# A card's missing counter value is an exception only once it is this late (§7).
ONECARD_SETTLING_WINDOW_HOURS: int = env.int("ONECARD_SETTLING_WINDOW_HOURS", default=72)
# Local time the nightly reconciliation runs (django-q2 cluster).
ONECARD_RECONCILE_AT: str = env.str("ONECARD_RECONCILE_AT", default="02:30")
# An adjustment above this many fen needs a second finance user's approval.
ONECARD_ADJUST_APPROVAL_THRESHOLD: int = env.int("ONECARD_ADJUST_APPROVAL_THRESHOLD",
                                                 default=10_000)
# Door access lists: days of change log kept for deltas (a controller further behind
# gets a full list).
ONECARD_ACCESS_LOG_DAYS: int = env.int("ONECARD_ACCESS_LOG_DAYS", default=30)
