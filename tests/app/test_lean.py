"""The lean path of the hot reads (wordmix.lean) gives exactly what the DRF view gives: the same
status, bytes and headers (security headers, CSP, Vary, Allow; all but the request id), also
for the problem answers; and it is really taken, else the comparison would prove nothing."""

from typing import Any

import pytest
from django.test import Client
from rest_framework.views import APIView

from aggregator import upstream
from wordmix import lean

pytestmark = pytest.mark.django_db

AGGREGATOR_PATHS = ["/api/v1/mix/", "/random"]


def comparable(response: Any) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k.lower() != "x-request-id"}
    return response.status_code, response.content, headers


def via_drf(client: Client, path: str) -> Any:
    # A query string sends the request to DRF; ?format=json keeps its JSON renderer.
    return client.get(path, {"format": "json"})


@pytest.fixture
def drf_refuses(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Makes any DRF dispatch fail, so an answer proves the lean path served it."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("DRF served a plain read")

    def install() -> None:
        monkeypatch.setattr(APIView, "dispatch", refuse)

    return install


@pytest.fixture
def aggregator(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.ROOT_URLCONF = "wordmix.urls.aggregator"
    monkeypatch.setattr(upstream, "random_mix", lambda: ("run", "dög"))


@pytest.mark.parametrize("path", AGGREGATOR_PATHS)
def test_aggregator_hot_reads_answer_as_drf_does(
    aggregator: None, client: Client, drf_refuses: Any, path: str
) -> None:
    full = comparable(via_drf(client, path))
    drf_refuses()
    assert comparable(client.get(path)) == full
    assert comparable(client.get(path, HTTP_ACCEPT="application/json")) == full


@pytest.mark.parametrize("path", AGGREGATOR_PATHS)
def test_aggregator_problems_answer_as_drf_does(
    settings: Any, monkeypatch: pytest.MonkeyPatch, client: Client, drf_refuses: Any, path: str
) -> None:
    settings.ROOT_URLCONF = "wordmix.urls.aggregator"
    failing = upstream.Upstream("nouns", "noun", "http://127.0.0.1:9")

    def unreachable() -> tuple[str, str]:
        raise upstream.UpstreamUnreachable(failing, "could not be reached (ConnectionError)")

    monkeypatch.setattr(upstream, "random_mix", unreachable)
    full = comparable(via_drf(client, path))
    assert full[0] == 503 and full[2]["Content-Type"] == "application/problem+json"
    drf_refuses()
    assert comparable(client.get(path)) == full


@pytest.mark.parametrize("path", ["/random", "/all", "/api/v1/{plural}/random/"])
def test_word_service_hot_reads_answer_as_drf_does(
    service: Any, client: Client, drf_refuses: Any, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    from wordmix.words import selectors

    monkeypatch.setattr(selectors, "word_random", lambda model: "café")
    path = path.format(plural=service.plural)
    full = comparable(via_drf(client, path))
    assert full[0] == 200
    drf_refuses()
    assert comparable(client.get(path)) == full


def test_word_service_empty_list_problem_answers_as_drf_does(
    service: Any, client: Client, drf_refuses: Any
) -> None:
    service.model.objects.all().delete()
    path = f"/api/v1/{service.plural}/random/"
    full = comparable(via_drf(client, path))
    assert full[0] == 404
    drf_refuses()
    assert comparable(client.get(path)) == full


@pytest.mark.parametrize(
    "extra",
    [
        {"HTTP_ACCEPT": "text/html"},
        {"HTTP_AUTHORIZATION": "Token not-a-token"},
        {"HTTP_COOKIE": "verbs_sessionid=x"},
    ],
    ids=["browser", "token", "session"],
)
def test_other_requests_go_to_drf(
    service: Any, client: Client, drf_refuses: Any, extra: dict[str, str]
) -> None:
    drf_refuses()
    with pytest.raises(AssertionError, match="DRF served"):
        client.get(f"/api/v1/{service.plural}/random/", **extra)


def test_writes_go_to_drf_past_the_csrf_check(aggregator: None, drf_refuses: Any) -> None:
    # The lean view carries DRF's csrf_exempt, so a POST reaches DRF (its 401/405 problem),
    # not Django's CSRF refusal.
    drf_refuses()
    with pytest.raises(AssertionError, match="DRF served"):
        Client(enforce_csrf_checks=True).post("/api/v1/mix/", {})


def test_plain_read_rules() -> None:
    from django.test import RequestFactory

    factory = RequestFactory()
    assert lean.is_plain_read(factory.get("/"))
    assert lean.is_plain_read(factory.get("/", HTTP_ACCEPT="*/*"))
    assert not lean.is_plain_read(factory.get("/?format=api"))
    assert not lean.is_plain_read(factory.post("/"))


# -- wordmix.lean.HotReads: the aggregator's hot reads before Django ---------------------------


class CountingApp:
    """Django's WSGI application, counting the requests that reach it."""

    def __init__(self) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.django = WSGIHandler()
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        return self.django(environ, start_response)


def wsgi_get(app: Any, path: str, **extra: str) -> tuple[str, list[tuple[str, str]], bytes]:
    from django.test import RequestFactory

    environ = RequestFactory()._base_environ(
        **{"PATH_INFO": path, "REQUEST_METHOD": "GET", **extra}
    )
    seen: list[Any] = []
    body = b"".join(app(environ, lambda status, headers, *exc: seen.extend([status, headers])))
    return seen[0], seen[1], body


def without_per_answer(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in ("content-length", "x-request-id")]


@pytest.fixture
def hot_reads(aggregator: None, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, CountingApp]:
    from aggregator.views import hot_reads as answers

    monkeypatch.setattr(upstream, "fresh_mix", lambda: ("run", "dög"))
    django = CountingApp()
    return lean.HotReads(django, answers()), django


@pytest.mark.parametrize("path", AGGREGATOR_PATHS)
def test_hot_reads_before_django_answer_with_djangos_headers(hot_reads: Any, path: str) -> None:
    app, django = hot_reads
    learned = wsgi_get(app, path)  # the first plain read goes through Django
    assert django.calls == 1
    fast = wsgi_get(app, path)
    assert django.calls == 1, "the second plain read reached Django"
    assert fast[0] == learned[0] == "200 OK"
    assert fast[2] == learned[2]  # same words here, so the same bytes
    assert without_per_answer(fast[1]) == without_per_answer(learned[1])
    headers = dict(fast[1])
    assert headers["Content-Length"] == str(len(fast[2]))
    assert headers["X-Request-ID"] != dict(learned[1])["X-Request-ID"]  # a new id per answer
    assert "Content-Security-Policy" in headers and headers["X-Frame-Options"] == "DENY"
    # A sane incoming id is kept, an unsafe one replaced, as RequestIdMiddleware does.
    assert dict(wsgi_get(app, path, HTTP_X_REQUEST_ID="abc-1")[1])["X-Request-ID"] == "abc-1"
    assert dict(wsgi_get(app, path, HTTP_X_REQUEST_ID="a b")[1])["X-Request-ID"] != "a b"
    assert django.calls == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"QUERY_STRING": "format=json"},
        {"HTTP_ACCEPT": "text/html"},
        {"HTTP_COOKIE": "sessionid=x"},
        {"HTTP_AUTHORIZATION": "Token x"},
        {"HTTP_X_FORWARDED_PROTO": "https"},
        {"REQUEST_METHOD": "HEAD"},
    ],
    ids=["query", "html", "cookie", "token", "https", "head"],
)
def test_hot_reads_leave_other_requests_to_django(hot_reads: Any, extra: dict[str, str]) -> None:
    app, django = hot_reads
    wsgi_get(app, "/api/v1/mix/")
    wsgi_get(app, "/api/v1/mix/", **extra)
    assert django.calls == 2


def test_hot_reads_go_to_django_when_the_lists_are_stale(
    hot_reads: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, django = hot_reads
    wsgi_get(app, "/api/v1/mix/")
    monkeypatch.setattr(upstream, "fresh_mix", lambda: None)
    wsgi_get(app, "/api/v1/mix/")
    assert django.calls == 2


def test_hot_reads_learn_nothing_from_a_problem(
    aggregator: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator.views import hot_reads as answers

    failing = upstream.Upstream("nouns", "noun", "http://127.0.0.1:9")

    def unreachable() -> tuple[str, str]:
        raise upstream.UpstreamUnreachable(failing, "could not be reached (ConnectionError)")

    monkeypatch.setattr(upstream, "random_mix", unreachable)
    monkeypatch.setattr(upstream, "fresh_mix", lambda: ("run", "dog"))
    django = CountingApp()
    app = lean.HotReads(django, answers())
    assert wsgi_get(app, "/api/v1/mix/")[0].startswith("503")
    wsgi_get(app, "/api/v1/mix/")
    assert django.calls == 2  # no template from a 503: still Django


def test_hot_reads_keep_a_bounded_number_of_templates(hot_reads: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    app, _ = hot_reads
    for n in range(lean.HotReads.MAX_TEMPLATES + 10):
        assert wsgi_get(app, "/api/v1/mix/", HTTP_HOST=f"h{n}.example")[0] == "200 OK"
    assert len(app.templates) == lean.HotReads.MAX_TEMPLATES
