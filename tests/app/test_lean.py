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
