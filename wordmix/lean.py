"""A lean path for the hot reads: the mix, the original `/random`, and the word services'
`/all`, `/random` and `/api/v1/<kind>/random/`.

Under load, DRF's request wrapping, content negotiation, authentication, permission and
throttle checks cost more than the answer itself, and for a plain anonymous GET they decide
nothing: the answer is always the JSON one. `hot_read(drf_view, answer)` serves exactly such
a request itself, with the bytes and headers the DRF view would give (its JSON renderer, its
`Vary` and `Allow`), and hands every other request to the DRF view unchanged: other methods,
a query string (`?format=api`), an `Accept` other than JSON or anything, credentials (a token
or a session cookie, which DRF must check, count and possibly refuse). The middleware (security
headers, CSP, request id) runs for both paths alike, since both are the same URL's view.

`HotReads` goes one step further for the aggregator's two hot reads, in front of Django
(wordmix/wsgi.py): see its docstring.
"""

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_vary_headers
from rest_framework.renderers import JSONRenderer

from wordmix.observability import valid_request_id
from wordmix.problems import PROBLEM_CONTENT_TYPE, Problem, problem_body

JSON_CONTENT_TYPE = "application/json"
# (status, body, content type): what a hot read answers.
Answer = tuple[int, Any, str]

# What DRF's negotiation answers with its JSON renderer (no header, the default of most
# clients, or JSON itself); anything else (a browser's text/html) goes to DRF.
_PLAIN_ACCEPTS = frozenset({"", "*/*", "application/json"})
# Headers DRF would look at (authentication) or that carry a session.
_CREDENTIALS = ("HTTP_AUTHORIZATION", "HTTP_COOKIE")
_render = JSONRenderer().render


def ok(body: Any) -> Answer:
    return 200, body, JSON_CONTENT_TYPE


def is_plain_read(request: HttpRequest) -> bool:
    meta = request.META
    return (
        request.method in ("GET", "HEAD")
        and not meta.get("QUERY_STRING")
        and meta.get("HTTP_ACCEPT", "") in _PLAIN_ACCEPTS
        and not any(meta.get(name) for name in _CREDENTIALS)
    )


def _drf_headers(drf_view: Callable[..., Any]) -> tuple[str | None, str, bool]:
    """The Vary and Allow headers DRF adds to every answer of this view (finalize_response),
    and whether its authentication reads the session (then SessionMiddleware adds
    `Vary: Cookie`)."""
    view = drf_view.cls(**drf_view.initkwargs)  # type: ignore[attr-defined]
    for method, action in getattr(drf_view, "actions", {}).items():
        setattr(view, method, getattr(view, action))
    if hasattr(view, "get") and not hasattr(view, "head"):
        view.head = view.get  # what View.setup does
    headers = view.default_response_headers
    return headers.get("Vary"), headers["Allow"], bool(view.authentication_classes)


def hot_read(
    drf_view: Callable[..., HttpResponseBase], answer: Callable[[], Answer]
) -> Callable[..., HttpResponseBase]:
    """`drf_view` (from `as_view()`) with plain reads answered by `answer()` directly. The
    result carries the DRF view's attributes (`cls`, `initkwargs`, `csrf_exempt`), so the
    OpenAPI schema and the CSRF middleware see the DRF view."""
    vary, allow, reads_session = _drf_headers(drf_view)

    @functools.wraps(drf_view)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_plain_read(request):
            return drf_view(request, *args, **kwargs)
        try:
            status, body, content_type = answer()
        except Problem as problem:  # as wordmix.problems.drf_exception_handler answers it
            status = problem.status
            body = problem_body(problem.status, problem.detail, **problem.extra)
            content_type = PROBLEM_CONTENT_TYPE
        if reads_session and hasattr(request, "session"):
            # DRF's authentication looks the (absent) session up for an anonymous request;
            # marking it read keeps SessionMiddleware's answer (Vary: Cookie) the same.
            request.session.accessed = True
        response = HttpResponse(_render(body), status=status, content_type=content_type)
        if vary:
            patch_vary_headers(response, (vary,))
        response["Allow"] = allow
        return response

    return view


# -- before Django: the aggregator's hot reads -------------------------------------------------

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]
_PER_ANSWER = ("content-length", "x-request-id")


def _plain_environ(environ: dict[str, Any]) -> bool:
    """A plain read whose answer no request header can change: as is_plain_read, and neither
    HTTPS (HSTS) nor a forwarded host or protocol that Django's middleware would look at."""
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and not environ.get("QUERY_STRING")
        and environ.get("HTTP_ACCEPT", "") in _PLAIN_ACCEPTS
        and not environ.get("HTTP_AUTHORIZATION")
        and not environ.get("HTTP_COOKIE")
        and environ.get("wsgi.url_scheme") == "http"
        and "HTTP_X_FORWARDED_PROTO" not in environ
        and "HTTP_X_FORWARDED_HOST" not in environ
    )


class HotReads:
    """The aggregator's mix and `/random` answered before Django when their answer needs
    nothing Django does for it: a plain read (see _plain_environ) while both word lists are
    fresh (no upstream call, so no trace headers to forward).

    Measured under load, Django's handler and middleware chain were most of what a mix cost
    once DRF was out of the way. The headers are not written here: they are Django's own.
    The first plain read of each path on each Host goes through Django (host validation,
    security headers, CSP, Vary, Allow, ...) and its answer's headers become that path's
    template, with only Content-Length and X-Request-ID made per answer (the request id
    exactly as RequestIdMiddleware makes it). Anything else (another method, a query,
    credentials, HTTPS, stale lists, an unknown Host, a failure) goes to Django as before."""

    # Templates are kept per path and Host; a wildcard in ALLOWED_HOSTS must not let clients
    # grow this without end (past it, those reads simply take Django's path).
    MAX_TEMPLATES = 32

    def __init__(self, app: WSGIApp, answers: dict[str, Callable[[], Any | None]]) -> None:
        self.app = app
        self.answers = answers
        self.templates: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        answer = self.answers.get(environ.get("PATH_INFO", ""))
        if answer is None or not _plain_environ(environ):
            return self.app(environ, start_response)
        key = (environ["PATH_INFO"], environ.get("HTTP_HOST", ""))
        template = self.templates.get(key)
        if template is None:
            return self._learn(key, environ, start_response)
        body = answer()
        if body is None:
            return self.app(environ, start_response)
        content = _render(body)
        request_id = valid_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        headers = [
            (name, str(len(content)))
            if name.lower() == "content-length"
            else (name, request_id)
            if name.lower() == "x-request-id"
            else (name, value)
            for name, value in template
        ]
        start_response("200 OK", headers)
        return [content]

    def _learn(
        self, key: tuple[str, str], environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Any:
        def remember(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            names = {name.lower() for name, _ in headers}
            if (
                len(self.templates) < self.MAX_TEMPLATES
                and status.startswith("200 ")
                and all(name in names for name in _PER_ANSWER)
                and not names & {"set-cookie", "strict-transport-security"}
            ):
                self.templates[key] = list(headers)
            return start_response(status, headers, *exc_info)

        return self.app(environ, remember)
