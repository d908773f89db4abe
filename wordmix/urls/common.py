from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from wordmix.words.api import word_api_urls
from wordmix.words.models import Word


def api_docs_urls() -> list[URLPattern]:
    return [
        path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
        path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    ]


def word_service_urls(model: type[Word]) -> list[URLPattern | URLResolver]:
    return [
        *word_api_urls(model),
        *api_docs_urls(),
        path("api-auth/", include("rest_framework.urls")),
        path("admin/", admin.site.urls),
    ]
