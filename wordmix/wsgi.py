"""WSGI entry point: `gunicorn wordmix.wsgi:application`, with DJANGO_SETTINGS_MODULE choosing
the service (wordmix.settings.verbs, .nouns or .aggregator)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wordmix.settings.verbs")

application = get_wsgi_application()
