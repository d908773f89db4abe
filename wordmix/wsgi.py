"""WSGI entry point: `python serve.py` (granian) serves `wordmix.wsgi:application`, with
DJANGO_SETTINGS_MODULE choosing the service (wordmix.settings.verbs, .nouns or .aggregator).

Around Django: the aggregator's hot reads answered before it when nothing Django does could
change the answer (wordmix.lean.HotReads), and the JSON access line around everything
(wordmix.accesslog; WORDMIX_ACCESS_LOG=0: none; not under DEBUG, where `make run` shows
runserver's own lines)."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from wordmix import accesslog
from wordmix.lean import HotReads, WSGIApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wordmix.settings.verbs")

application: WSGIApp = get_wsgi_application()
if settings.WORDMIX_SERVICE == "aggregator":
    from aggregator.views import hot_reads

    application = HotReads(application, hot_reads())
if accesslog.enabled() and not settings.DEBUG:
    application = accesslog.with_access_log(application)
