"""The three services under their real server (serve.py) with production settings, over real
HTTP."""

import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.app.stack import SECRET, staff_token
from tests.app.upstreams import Service, StubWordService

pytestmark = pytest.mark.integration


def get(url: str) -> requests.Response:
    return requests.get(url, timeout=5)


def wait_for(check, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_mixes_over_http(stack) -> None:
    verbs = get(f"{stack['verbs'].url}/all").json()["verbs"]
    nouns = get(f"{stack['nouns'].url}/all").json()["nouns"]
    assert {"run", "laugh"} <= set(verbs) and {"dog", "table"} <= set(nouns)
    for _ in range(20):
        mix = get(f"{stack['aggregator'].url}/api/v1/mix/").json()
        assert mix["verb"] in verbs and mix["noun"] in nouns
    original = get(f"{stack['aggregator'].url}/random").json()
    assert original["verb"]["verb"] in verbs and original["noun"]["noun"] in nouns


def test_page_and_static_files_are_served(stack) -> None:
    page = get(f"{stack['aggregator'].url}/")
    assert page.status_code == 200
    script = page.text.split('<script src="')[1].split('"')[0]
    assert get(f"{stack['aggregator'].url}{script}").status_code == 200


def test_admin_login_page_is_served_with_static_files(stack) -> None:
    page = get(f"{stack['verbs'].url}/admin/login/")
    assert page.status_code == 200
    stylesheet = page.text.split('href="/static/admin/css/base.')[1].split('"')[0]
    assert get(f"{stack['verbs'].url}/static/admin/css/base.{stylesheet}").status_code == 200


def test_a_word_added_through_the_api_shows_in_mixes_within_two_seconds(stack) -> None:
    token = staff_token("nouns", stack["nouns"].env)
    response = requests.post(
        f"{stack['nouns'].url}/api/v1/nouns/",
        json={"text": "zeppelin"},
        headers={"Authorization": f"Token {token}"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    # Mixes pick one of 16 nouns at random: asking continuously for 2 s (hundreds of mixes
    # after the <= 1 s cache expiry) makes missing a present word vanishingly unlikely.
    # Four clients ask at once, so even a loaded machine samples enough mixes in the window.
    deadline = time.monotonic() + 2.0
    seen = threading.Event()

    def poll() -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline and not seen.is_set():
                mix = session.get(f"{stack['aggregator'].url}/api/v1/mix/", timeout=5).json()
                if mix["noun"] == "zeppelin":
                    seen.set()

    pollers = [threading.Thread(target=poll) for _ in range(4)]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join()
    assert seen.is_set(), "the new noun did not show in mixes within 2 s"


def test_anonymous_write_over_http_is_refused(stack) -> None:
    response = requests.post(f"{stack['verbs'].url}/add", json={"verb": "zigzag"}, timeout=5)
    assert response.status_code == 401
    assert "zigzag" not in get(f"{stack['verbs'].url}/all").json()["verbs"]


def test_nouns_down_is_503_then_recovers(stack) -> None:
    aggregator, nouns = stack["aggregator"], stack["nouns"]
    nouns.stop()
    try:
        answers: list[requests.Response] = []
        assert wait_for(
            lambda: (
                (answers.append(get(f"{aggregator.url}/api/v1/mix/")) or answers[-1]).status_code
                == 503
            ),
            timeout=3.0,
        ), "the aggregator kept answering after nouns went away for > 2 s"
        response = answers[-1]
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["upstream"] == "nouns"
        assert get(f"{aggregator.url}/readyz").status_code == 503
    finally:
        nouns.start()
    assert wait_for(lambda: get(f"{aggregator.url}/api/v1/mix/").status_code == 200, timeout=3.0)


@pytest.fixture
def aggregator_with_stubs() -> Iterator[tuple[Service, StubWordService, StubWordService]]:
    verbs = StubWordService("verbs", "verb", ["run"]).start()
    nouns = StubWordService("nouns", "noun", ["dog"]).start()
    aggregator = Service(
        "aggregator",
        {
            "DJANGO_SECRET_KEY": SECRET,
            "VERBS_URL": verbs.url,
            "NOUNS_URL": nouns.url,
            "WORDMIX_UPSTREAM_READ_TIMEOUT": "0.5",
            "WORDMIX_WORD_CACHE_TTL": "0",
        },
    ).start()
    try:
        yield aggregator, verbs, nouns
    finally:
        aggregator.stop()
        verbs.stop()
        nouns.stop()


def test_stalling_upstream_is_504(aggregator_with_stubs) -> None:
    aggregator, verbs, _ = aggregator_with_stubs
    verbs.mode, verbs.stall_seconds = "stall", 2.0
    response = get(f"{aggregator.url}/api/v1/mix/")
    assert response.status_code == 504
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["upstream"] == "verbs"


def test_non_json_upstream_is_502(aggregator_with_stubs) -> None:
    aggregator, _, nouns = aggregator_with_stubs
    nouns.mode = "garbage"
    response = get(f"{aggregator.url}/api/v1/mix/")
    assert response.status_code == 502
    assert response.json()["upstream"] == "nouns"
    assert "not JSON" in response.json()["detail"]


def test_server_stops_on_sigterm(aggregator_with_stubs) -> None:
    aggregator, _, _ = aggregator_with_stubs
    started = time.monotonic()
    aggregator.stop()
    assert time.monotonic() - started < 5


def test_access_lines_are_json_with_the_request_id(aggregator_with_stubs) -> None:
    # The id the app answered with, both when the client sent one and when the app made one.
    aggregator, _, _ = aggregator_with_stubs
    sent = requests.get(
        f"{aggregator.url}/api/v1/mix/", headers={"X-Request-ID": "trace-me-77"}, timeout=5
    )
    made = requests.get(
        f"{aggregator.url}/random", headers={"User-Agent": 'evil"{agent}'}, timeout=5
    )
    made_id = made.headers["X-Request-ID"]
    wanted = {"trace-me-77": "/api/v1/mix/", made_id: "/random"}
    deadline = time.monotonic() + 5
    found: dict[str, dict[str, object]] = {}
    while time.monotonic() < deadline and len(found) < len(wanted):
        for line in aggregator.log.read_text().splitlines():
            if line.startswith("{") and '"duration_ms"' in line:
                entry = json.loads(line)  # every access line is valid JSON
                if entry["request_id"] in wanted:
                    found[entry["request_id"]] = entry
        time.sleep(0.1)
    assert set(found) == set(wanted), found
    for request_id, path in wanted.items():
        assert found[request_id]["path"] == path
        assert found[request_id]["method"] == "GET"
        assert found[request_id]["status"] == "200"
    assert sent.status_code == 200
    assert found[made_id]["user_agent"] == 'evil"{agent}'


@pytest.mark.parametrize("path", ["/api/v1/mix/", "/random"])
def test_hot_reads_answer_with_the_headers_django_gives(stack, path: str) -> None:
    # Through the real server: plain reads (answered before Django once the lists are fresh
    # and the first one taught the headers) against the same read with a query string,
    # which always goes through Django's middleware.
    url = f"{stack['aggregator'].url}{path}"
    per_answer = {"x-request-id", "content-length", "date"}

    def shape(response: requests.Response) -> dict[str, str]:
        assert response.status_code == 200, response.text
        assert response.headers["Content-Length"] == str(len(response.content))
        assert response.headers["X-Request-ID"]
        return {k.lower(): v for k, v in response.headers.items() if k.lower() not in per_answer}

    full = shape(requests.get(f"{url}?through=django", timeout=5))
    for _ in range(5):
        assert shape(requests.get(url, timeout=5)) == full
    assert "content-security-policy" in full and full["x-frame-options"] == "DENY"
