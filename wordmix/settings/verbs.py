"""The verbs service: `DJANGO_SETTINGS_MODULE=wordmix.settings.verbs`."""

from wordmix.settings.words import *  # noqa: F403
from wordmix.settings.words import SPECTACULAR_SETTINGS, WORD_SERVICE_APPS, word_database

WORDMIX_SERVICE = "verbs"
ROOT_URLCONF = "wordmix.urls.verbs"
INSTALLED_APPS = [*WORD_SERVICE_APPS, "verbs"]
DATABASES = word_database("verbs")
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "wordmix verbs API"}
