"""Only for `manage.py collectstatic` at build time: every app's static files in one
STATIC_ROOT and one manifest, so the same collected files serve all three services."""

from wordmix.settings.words import *  # noqa: F403
from wordmix.settings.words import WORD_SERVICE_APPS

WORDMIX_SERVICE = "collect"
ROOT_URLCONF = "wordmix.urls.aggregator"
INSTALLED_APPS = [*WORD_SERVICE_APPS, "verbs", "nouns", "aggregator"]
DATABASES = {}
