from collections.abc import Callable
from functools import wraps
from typing import Any

from csp.constants import UNSAFE_INLINE
from django.contrib import admin
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from wordmix.words.api import word_api_urls
from wordmix.words.models import Word


def allow_inline_styles_on_html(view: Callable[..., HttpResponseBase]) -> Callable[..., Any]:
    """Swagger UI and DRF's browsable API set style attributes from their own code, which a
    strict style-src blocks. Only their HTML answers get inline *styles*; scripts stay
    'self'-only everywhere, and JSON answers and the app's own pages keep the strict policy."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        media_type = getattr(response, "accepted_media_type", None) or response.get(
            "Content-Type", ""
        )
        if media_type.startswith("text/html"):
            # django-csp's documented per-response hook (what its csp_update decorator sets).
            response._csp_update = {"style-src": [UNSAFE_INLINE]}  # type: ignore[attr-defined]
        return response

    return wrapped


def _relaxed(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    relaxed: list[URLPattern | URLResolver] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            relaxed.append(
                URLResolver(
                    pattern.pattern,
                    _relaxed(pattern.url_patterns),
                    pattern.default_kwargs,
                    pattern.app_name,
                    pattern.namespace,
                )
            )
        else:
            relaxed.append(
                URLPattern(
                    pattern.pattern,
                    allow_inline_styles_on_html(pattern.callback),
                    pattern.default_args,
                    pattern.name,
                )
            )
    return relaxed


def api_docs_urls() -> list[URLPattern | URLResolver]:
    return _relaxed(
        [
            path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
            # The split view serves its start-up script as a file: no inline script.
            path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
        ]
    )


def word_service_urls(model: type[Word]) -> list[URLPattern | URLResolver]:
    return [
        *_relaxed(word_api_urls(model)),
        *api_docs_urls(),
        path("api-auth/", include("rest_framework.urls")),
        path("admin/", admin.site.urls),
    ]
