"""The aggregator: `DJANGO_SETTINGS_MODULE=wordmix.settings.aggregator`. No database, no
admin, no sessions: it only reads the two word services over HTTP."""

from wordmix.env import env_float, env_int, env_str
from wordmix.settings.base import *  # noqa: F403
from wordmix.settings.base import INSTALLED_APPS, SPECTACULAR_SETTINGS

WORDMIX_SERVICE = "aggregator"
ROOT_URLCONF = "wordmix.urls.aggregator"
INSTALLED_APPS = [*INSTALLED_APPS, "aggregator"]
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "wordmix aggregator API"}

VERBS_URL = env_str("VERBS_URL", "http://127.0.0.1:8001").rstrip("/")
NOUNS_URL = env_str("NOUNS_URL", "http://127.0.0.1:8002").rstrip("/")

# Where a person's browser finds the admins (links on the page); in the cluster the admins
# are reached through `make admin`, which forwards them to the same local ports.
VERBS_ADMIN_URL = env_str("WORDMIX_VERBS_ADMIN_URL", "http://localhost:8001/admin/")
NOUNS_ADMIN_URL = env_str("WORDMIX_NOUNS_ADMIN_URL", "http://localhost:8002/admin/")

# "lists": keep each word list in memory for at most WORD_CACHE_TTL seconds and pick locally
# (one upstream round trip per list per TTL per worker). "fanout": ask both services for a
# random word on every request (the original's design; kept as the benchmark's reference).
MIX_MODE = env_str("WORDMIX_MIX_MODE", "lists")
# The contract: an edit in an admin shows in mixes within 2 s; never serve older words.
WORD_CACHE_TTL = min(env_float("WORDMIX_WORD_CACHE_TTL", 1.0), 2.0)
# Bound on what is cached: a list longer than this is not kept; that kind falls back to
# asking its service for a random word on each request.
WORD_CACHE_MAX_WORDS = env_int("WORDMIX_WORD_CACHE_MAX_WORDS", 10_000)
