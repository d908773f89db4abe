"""The nouns service: `DJANGO_SETTINGS_MODULE=wordmix.settings.nouns`."""

from wordmix.settings.words import *  # noqa: F403
from wordmix.settings.words import SPECTACULAR_SETTINGS, WORD_SERVICE_APPS, word_database

WORDMIX_SERVICE = "nouns"
ROOT_URLCONF = "wordmix.urls.nouns"
INSTALLED_APPS = [*WORD_SERVICE_APPS, "nouns"]
DATABASES = word_database("nouns")
# Browsers share cookies across ports: without its own names, logging into the nouns admin
# on :8002 would replace the session of the verbs admin on :8001.
SESSION_COOKIE_NAME = "nouns_sessionid"
CSRF_COOKIE_NAME = "nouns_csrftoken"
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "wordmix nouns API"}
