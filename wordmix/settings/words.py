"""What the two word services share: a database, the admin, token and session auth."""

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
    "wordmix.words",
]


def word_database(service: str) -> dict[str, dict[str, object]]:
    """DATABASE_URL when set (PostgreSQL in the cluster), else a SQLite file in var/."""
    default_url = f"sqlite:///{VAR_DIR / f'{service}.sqlite3'}"
    return {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL", default_url),
            conn_max_age=env_int("WORDMIX_DB_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }


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
]

TEMPLATES[0]["OPTIONS"]["context_processors"] = [  # type: ignore[index]
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
]

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        # The browsable API posts forms; the admin session's CSRF token guards them.
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        # Session auth enforces CSRF on writes, as the admin's users expect.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["wordmix.words.permissions.StaffWritesOrReadOnly"],
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
