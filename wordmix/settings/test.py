"""pytest's settings: both word apps and the aggregator in one process, on SQLite unless
DATABASE_URL points elsewhere. Tests pick a service's URLs with @pytest.mark.urls."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-used-anywhere-else-0123456789")

from wordmix.settings.aggregator import (
    MIX_MODE,
    NOUNS_ADMIN_URL,
    NOUNS_URL,
    VERBS_ADMIN_URL,
    VERBS_URL,
    WORD_CACHE_MAX_WORDS,
    WORD_CACHE_TTL,
)
from wordmix.settings.words import *  # noqa: F403
from wordmix.settings.words import WORD_SERVICE_APPS, word_database

WORDMIX_SERVICE = "test"
ROOT_URLCONF = "wordmix.urls.verbs"
INSTALLED_APPS = [*WORD_SERVICE_APPS, "verbs", "nouns", "aggregator"]
DATABASES = word_database("test")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files are found in the apps, as under DEBUG; nothing is collected for tests.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
__all__ = [
    "MIX_MODE",
    "NOUNS_ADMIN_URL",
    "NOUNS_URL",
    "VERBS_ADMIN_URL",
    "VERBS_URL",
    "WORD_CACHE_MAX_WORDS",
    "WORD_CACHE_TTL",
]
