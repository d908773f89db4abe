"""The nouns service: `DJANGO_SETTINGS_MODULE=wordmix.settings.nouns`."""

from wordmix.settings.words import *  # noqa: F403
from wordmix.settings.words import SPECTACULAR_SETTINGS, WORD_SERVICE_APPS, word_database

WORDMIX_SERVICE = "nouns"
ROOT_URLCONF = "wordmix.urls.nouns"
INSTALLED_APPS = [*WORD_SERVICE_APPS, "nouns"]
DATABASES = word_database("nouns")
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "wordmix nouns API"}
