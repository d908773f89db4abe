"""Root URLconf of the nouns service."""

from nouns.models import Noun
from wordmix.urls.common import word_service_urls

urlpatterns = word_service_urls(Noun)

handler400 = "wordmix.problems.handler400"
handler403 = "wordmix.problems.handler403"
handler404 = "wordmix.problems.handler404"
handler500 = "wordmix.problems.handler500"
