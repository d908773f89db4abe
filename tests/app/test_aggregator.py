"""The aggregator against real HTTP word services that misbehave on request."""

import threading
from collections.abc import Iterator

import pytest
from django.test import Client

from aggregator import upstream
from tests.app.upstreams import StubWordService

VERBS = ["run", "jump", "sing"]
NOUNS = ["dog", "cat", "tree"]


@pytest.fixture
def stubs(settings) -> Iterator[tuple[StubWordService, StubWordService]]:  # type: ignore[no-untyped-def]
    verbs = StubWordService("verbs", "verb", VERBS).start()
    nouns = StubWordService("nouns", "noun", NOUNS).start()
    settings.ROOT_URLCONF = "wordmix.urls.aggregator"
    settings.VERBS_URL, settings.NOUNS_URL = verbs.url, nouns.url
    settings.UPSTREAM_READ_TIMEOUT = 0.5
    settings.MIX_MODE = "lists"
    settings.WORDMIX_SERVICE = "aggregator"  # readiness checks the upstreams, not a database
    upstream.clear_cache()
    yield verbs, nouns
    upstream.clear_cache()
    verbs.stop()
    nouns.stop()


def expire_cache() -> None:
    upstream.clear_cache()


def assert_problem(response, status: int, upstream_name: str, words: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["upstream"] == upstream_name
    assert upstream_name in body["detail"]
    assert words in body["detail"]
    assert "Traceback" not in response.content.decode()


def test_mix_shape(stubs, client: Client) -> None:
    body = client.get("/api/v1/mix/").json()
    assert body["verb"] in VERBS
    assert body["noun"] in NOUNS


def test_ping_is_a_trivial_json_answer(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = "wordmix.urls.aggregator"
    assert client.get("/api/v1/ping/").json() == {"pong": True}


def test_original_random_shape(stubs, client: Client) -> None:
    body = client.get("/random").json()
    assert set(body) == {"verb", "noun"}
    assert body["verb"]["verb"] in VERBS
    assert body["noun"]["noun"] in NOUNS


def test_page_shows_a_mix_and_links_to_both_admins(stubs, client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/").content.decode()
    assert any(f'id="verb">{verb}<' in page for verb in VERBS)
    assert any(f'id="noun">{noun}<' in page for noun in NOUNS)
    assert settings.VERBS_ADMIN_URL in page and settings.NOUNS_ADMIN_URL in page
    assert 'id="new-mix"' in page


def test_page_has_no_inline_script(stubs, client: Client) -> None:
    page = client.get("/").content.decode()
    for chunk in page.split("<script")[1:]:
        tag, _, rest = chunk.partition(">")
        assert "src=" in tag, "a <script> without src would break a strict CSP"
        assert rest.startswith("</script>")
    assert "onclick" not in page.lower()


def test_page_shows_the_upstream_trouble(stubs, client: Client) -> None:
    stubs[1].stop()
    response = client.get("/")
    assert response.status_code == 503
    assert "nouns service could not be reached" in response.content.decode()


def test_unreachable_upstream_is_503(stubs, client: Client) -> None:
    stubs[1].stop()
    assert_problem(client.get("/api/v1/mix/"), 503, "nouns", "could not be reached")


def test_stalled_upstream_is_504(stubs, client: Client) -> None:
    stubs[0].mode = "stall"
    stubs[0].stall_seconds = 2.0
    assert_problem(client.get("/api/v1/mix/"), 504, "verbs", "did not answer within 0.5 s")


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("garbage", "not JSON"),
        ("error", "answered HTTP 500"),
        ("wrong-shape", "without a list of strings"),
    ],
)
def test_bad_answers_are_502(stubs, client: Client, mode: str, words: str) -> None:
    stubs[1].mode = mode
    assert_problem(client.get("/api/v1/mix/"), 502, "nouns", words)


def test_upstream_without_words_is_503(stubs, client: Client) -> None:
    stubs[0].mode = "empty"
    assert_problem(client.get("/api/v1/mix/"), 503, "verbs", "has no words yet")


def test_original_route_gets_problems_too(stubs, client: Client) -> None:
    stubs[0].stop()
    assert_problem(client.get("/random"), 503, "verbs", "could not be reached")


def test_recovers_when_the_upstream_returns(stubs, client: Client) -> None:
    stubs[1].mode = "error"
    assert client.get("/api/v1/mix/").status_code == 502
    stubs[1].mode = "ok"
    expire_cache()  # the failure is held briefly (FAILURE_HOLD); a new worker starts clean
    assert client.get("/api/v1/mix/").status_code == 200


def test_lists_are_cached_within_the_ttl(stubs, client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WORD_CACHE_TTL = 60.0
    for _ in range(20):
        assert client.get("/api/v1/mix/").status_code == 200
    assert [path for path, _ in stubs[0].requests] == ["/all"]


def test_cache_never_serves_words_older_than_the_ttl(stubs, client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    """Zero TTL: every mix refetches, so a new word shows at once and a dead upstream is a
    503 at once; the same code path runs at the 1 s default, only later."""
    settings.WORD_CACHE_TTL = 0.0
    stubs[1].words = ["owl"]
    assert client.get("/api/v1/mix/").json()["noun"] == "owl"
    stubs[1].stop()
    assert client.get("/api/v1/mix/").status_code == 503


def test_ttl_is_capped_at_two_seconds(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib

    import wordmix.settings.aggregator as aggregator_settings

    monkeypatch.setenv("WORDMIX_WORD_CACHE_TTL", "30")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "k" * 50)
    assert importlib.reload(aggregator_settings).WORD_CACHE_TTL == 2.0
    monkeypatch.delenv("WORDMIX_WORD_CACHE_TTL")
    importlib.reload(aggregator_settings)


def test_long_lists_are_not_cached(stubs, client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    """The cache is bounded: a list over the bound is not kept; that kind is asked for a
    random word on each request instead."""
    settings.WORD_CACHE_MAX_WORDS = 2
    for _ in range(3):
        assert client.get("/api/v1/mix/").status_code == 200
    random_calls = [p for p, _ in stubs[0].requests if p == "/api/v1/verbs/random/"]
    assert len(random_calls) == 3


def test_fanout_mode_asks_for_random_words(stubs, client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MIX_MODE = "fanout"
    assert client.get("/api/v1/mix/").json() == {"verb": VERBS[0], "noun": NOUNS[0]}
    assert [p for p, _ in stubs[1].requests] == ["/api/v1/nouns/random/"]


def test_the_two_upstream_calls_run_concurrently(stubs, client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    """Each stub waits, inside its request, until the other one has a request too: with
    sequential calls the barrier breaks and the stubs answer 500 (a 502 here)."""
    # Generous: a loaded machine may be slow to start the second call, never sequential.
    barrier = threading.Barrier(2, timeout=30)
    settings.UPSTREAM_READ_TIMEOUT = 60.0
    for stub in stubs:
        original = stub.words

        class Waiting(list):  # type: ignore[type-arg]
            def __iter__(self, original=original):  # type: ignore[no-untyped-def]
                barrier.wait()
                return iter(original)

        stub.words = Waiting(original)
    assert client.get("/api/v1/mix/").status_code == 200


def test_trace_headers_are_propagated(stubs, client: Client) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = client.get(
        "/api/v1/mix/",
        HTTP_X_REQUEST_ID="req-123",
        HTTP_TRACEPARENT=traceparent,
        HTTP_X_B3_TRACEID="80f198ee56343ba864fe8b2a57d3eff7",
        HTTP_X_B3_SAMPLED="1",
    )
    assert response["X-Request-ID"] == "req-123"
    for stub in stubs:
        _, headers = stub.requests[0]
        assert headers["x-request-id"] == "req-123"
        assert headers["traceparent"] == traceparent
        assert headers["x-b3-traceid"] == "80f198ee56343ba864fe8b2a57d3eff7"
        assert headers["x-b3-sampled"] == "1"


def test_unsafe_request_ids_are_replaced(stubs, client: Client) -> None:
    response = client.get("/api/v1/mix/", HTTP_X_REQUEST_ID="bad id\r\nInjected: 1")
    assert response["X-Request-ID"] != "bad id\r\nInjected: 1"
    assert len(response["X-Request-ID"]) == 32


def test_readyz_checks_both_upstreams(stubs, client: Client) -> None:
    assert client.get("/readyz").status_code == 200
    stubs[0].stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "verbs" in response.json()["detail"]


def test_schema_documents_the_problem_answers(stubs, client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    responses = schema["paths"]["/api/v1/mix/"]["get"]["responses"]
    assert {"200", "502", "503", "504"} <= set(responses)
