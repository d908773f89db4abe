"""The verbs service: `DJANGO_SETTINGS_MODULE=wordmix.settings.verbs`."""

from wordmix.settings.words import *  # noqa: F403
from wordmix.settings.words import SPECTACULAR_SETTINGS, WORD_SERVICE_APPS, word_database

WORDMIX_SERVICE = "verbs"
ROOT_URLCONF = "wordmix.urls.verbs"
INSTALLED_APPS = [*WORD_SERVICE_APPS, "verbs"]
DATABASES = word_database("verbs")
# Browsers share cookies across ports: without its own names, logging into the nouns admin
# on :8002 would replace the session of the verbs admin on :8001.
SESSION_COOKIE_NAME = "verbs_sessionid"
CSRF_COOKIE_NAME = "verbs_csrftoken"
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "wordmix verbs API"}
