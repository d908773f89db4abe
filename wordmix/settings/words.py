"""What the two word services share: a database, the admin, token and session auth."""

from datetime import timedelta

import dj_database_url

from wordmix.env import env_int, env_str
from wordmix.settings.base import *  # noqa: F403
from wordmix.settings.base import INSTALLED_APPS, REST_FRAMEWORK, TEMPLATES, VAR_DIR

WORD_SERVICE_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    *INSTALLED_APPS,
    "rest_framework.authtoken",
    "axes",
    "wordmix.words",
]


def word_database(service: str) -> dict[str, dj_database_url.DBConfig]:
    """DATABASE_URL when set (PostgreSQL in the cluster), else a SQLite file in var/."""
    default_url = f"sqlite:///{VAR_DIR / f'{service}.sqlite3'}"
    database = dj_database_url.parse(
        env_str("DATABASE_URL", default_url),
        conn_max_age=env_int("WORDMIX_DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
    if "postgresql" in database.get("ENGINE", ""):
        # Without a bound, a connection to a database pod that has just gone away waits for
        # the kernel's SYN retries (minutes): every server thread ends up waiting, /healthz
        # cannot answer, and the kubelet restarts a service that only had to say 503.
        options = database.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", env_int("WORDMIX_DB_CONNECT_TIMEOUT", 3))
    return {"default": database}


MIDDLEWARE = [
    "wordmix.health.HealthMiddleware",
    "wordmix.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out client is refused before its password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Five failed logins for the same user from the same address lock that pair out for
# 15 minutes. In the mesh every request arrives from the local sidecar, so the address part
# is the same for everyone and the lockout is per user name: slower guessing, at the price
# that someone can lock a known user out for 15 minutes (use `manage.py axes_reset`).
AXES_FAILURE_LIMIT = env_int("WORDMIX_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("WORDMIX_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "wordmix.words.auth.lockout_response"

TEMPLATES[0]["OPTIONS"]["context_processors"] = [  # type: ignore[index]
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
]

# Writes per staff user (or address) per minute, across the API; reads are not throttled.
WORDMIX_WRITE_RATE = env_str("WORDMIX_WRITE_RATE", "120/minute")

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_PARSER_CLASSES": [
        "wordmix.words.parsers.JSONParser",
        # The browsable API posts forms; the admin session's CSRF token guards them.
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "wordmix.words.auth.LockoutTokenAuthentication",
        # Session auth enforces CSRF on writes, as the admin's users expect.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["wordmix.words.permissions.StaffWritesOrReadOnly"],
    "DEFAULT_THROTTLE_CLASSES": ["wordmix.words.auth.WriteRateThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
