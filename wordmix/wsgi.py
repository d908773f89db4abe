"""WSGI entry point: `python serve.py` (granian) serves `wordmix.wsgi:application`, with
DJANGO_SETTINGS_MODULE choosing the service (wordmix.settings.verbs, .nouns or .aggregator).
The JSON access line is written here, around the whole app (WORDMIX_ACCESS_LOG=0: none)."""

import os

from django.core.wsgi import get_wsgi_application

from wordmix.accesslog import enabled, with_access_log

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wordmix.settings.verbs")

application = get_wsgi_application()
if enabled():
    application = with_access_log(application)
