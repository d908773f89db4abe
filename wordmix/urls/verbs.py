"""Root URLconf of the verbs service."""

from verbs.models import Verb
from wordmix.urls.common import word_service_urls

urlpatterns = word_service_urls(Verb)

handler400 = "wordmix.problems.handler400"
handler403 = "wordmix.problems.handler403"
handler404 = "wordmix.problems.handler404"
handler500 = "wordmix.problems.handler500"
