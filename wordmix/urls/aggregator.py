"""Root URLconf of the aggregator."""

from django.urls import path

from aggregator import views
from wordmix.urls.common import api_docs_urls

urlpatterns = [
    path("", views.index, name="index"),
    path("api/v1/mix/", views.mix, name="mix"),
    path("api/v1/ping/", views.PingView.as_view(), name="ping"),
    path("random", views.original_random, name="original-random"),
    *api_docs_urls(),
]

handler400 = "wordmix.problems.handler400"
handler403 = "wordmix.problems.handler403"
handler404 = "wordmix.problems.handler404"
handler500 = "wordmix.problems.handler500"
