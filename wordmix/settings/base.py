"""Settings shared by the three services. Each service module (verbs, nouns, aggregator)
imports everything from here and adds only what differs.

DEBUG is off unless DJANGO_DEBUG=1 (as `make run` sets it); without DEBUG the service refuses
to start unless DJANGO_SECRET_KEY is set."""

from pathlib import Path
from typing import Any

from csp.constants import NONE, SELF
from django.core.management.utils import get_random_secret_key

from wordmix.env import env_bool, env_float, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Where the SQLite databases of the embedded default live (make run).
VAR_DIR = Path(env_str("WORDMIX_VAR_DIR", str(BASE_DIR / "var")))

# Which service this process is; each service module sets it.
WORDMIX_SERVICE = "base"

DEBUG = env_bool("DJANGO_DEBUG", False)

# A development key is made up only under DEBUG; production must be given one.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", get_random_secret_key() if DEBUG else None)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    # Health first: kubelet probes carry the pod IP as Host, which ALLOWED_HOSTS rightly
    # rejects, and a probe must not depend on sessions or auth.
    "wordmix.health.HealthMiddleware",
    "wordmix.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    # The aggregator takes no writes today; CSRF stays on so a future form is guarded.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    },
]

WSGI_APPLICATION = "wordmix.wsgi.application"

DATABASES: dict[str, Any] = {}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT: Path | None = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Under DEBUG (make run) static files are served from the apps without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
# Pages link to the hashed names only; the unhashed copies would be dead weight in the image.
WHITENOISE_KEEP_ONLY_HASHED_FILES = not DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Uploads (bulk import) are small text files: refuse anything big before it is read.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "wordmix.openapi.WordmixAutoSchema",
    "EXCEPTION_HANDLER": "wordmix.problems.drf_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files come from a package, not a CDN: the docs page works offline and
    # under a strict Content-Security-Policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Behind the Istio ingress gateway TLS ends at the mesh edge; the gateway sets
# X-Forwarded-Proto, and only the gateway may reach the pods (AuthorizationPolicy).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Strict: no inline script or style anywhere, nothing from other origins. The aggregator's
# page, the admin, the browsable API and the Swagger UI page all work under it (checked in a
# real browser by tests/app/test_browser.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = 0 if DEBUG else 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# The mesh terminates TLS and kubelet probes speak plain HTTP to the pod, so redirecting
# plain HTTP to HTTPS inside the pod would break probes and in-mesh calls; the gateway
# redirects at the edge instead. That is the only `check --deploy` warning left (W008).
SECURE_SSL_REDIRECT = False
SILENCED_SYSTEM_CHECKS = ["security.W008"]

# Upstream calls (aggregator): short timeouts, so a dead upstream costs a request little.
UPSTREAM_CONNECT_TIMEOUT = env_float("WORDMIX_UPSTREAM_CONNECT_TIMEOUT", 0.5)
UPSTREAM_READ_TIMEOUT = env_float("WORDMIX_UPSTREAM_READ_TIMEOUT", 1.0)

LOG_LEVEL = env_str("DJANGO_LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("WORDMIX_LOG_FORMAT", "text" if DEBUG else "json")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "wordmix.observability.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "wordmix.observability.JsonFormatter"},
        "text": {"format": "%(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
    },
}
