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
    return requests.get(url, timeout=30)


# Waits poll with a generous deadline: a loaded machine is slow, and speed is make bench's
# business. Where a bound is part of the contract (2 s of staleness), it is checked on when
# each request was sent, never on how fast the answers came.
DEADLINE = 120.0


def wait_for(check, timeout: float = DEADLINE):  # type: ignore[no-untyped-def]
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
        timeout=30,
    )
    assert response.status_code == 201, response.text
    # Every mix asked for from 2 s after the write on comes from a list fetched after it (the
    # cache keeps a list at most 2 s), so it shows the new noun with a chance of 1 in 16.
    # 600 such mixes all without it cannot happen if the bound holds ((15/16)^600 < 1e-16);
    # how fast they come does not matter, so a loaded machine changes nothing.
    fresh_from = time.monotonic() + 2.0
    deadline = time.monotonic() + DEADLINE
    seen = threading.Event()
    lock = threading.Lock()
    fresh_misses = [0]

    def poll() -> None:
        with requests.Session() as session:
            while not seen.is_set() and fresh_misses[0] < 600 and time.monotonic() < deadline:
                sent = time.monotonic()
                mix = session.get(f"{stack['aggregator'].url}/api/v1/mix/", timeout=30).json()
                if mix["noun"] == "zeppelin":
                    seen.set()
                elif sent >= fresh_from:
                    with lock:
                        fresh_misses[0] += 1

    pollers = [threading.Thread(target=poll) for _ in range(4)]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join()
    assert seen.is_set(), (
        f"the new noun was in none of {fresh_misses[0]} mixes asked for 2 s or more after it"
        " was added: the aggregator serves word lists older than 2 s"
    )


def test_anonymous_write_over_http_is_refused(stack) -> None:
    response = requests.post(f"{stack['verbs'].url}/add", json={"verb": "zigzag"}, timeout=30)
    assert response.status_code == 401
    assert "zigzag" not in get(f"{stack['verbs'].url}/all").json()["verbs"]


def test_nouns_down_is_503_then_recovers(stack) -> None:
    """Once nouns is gone, the aggregator may serve its cached list for at most 2 s: every
    mix asked for later than that must be the 503 problem naming nouns."""
    aggregator, nouns = stack["aggregator"], stack["nouns"]
    assert nouns.stop() == 0
    gone = time.monotonic()  # nouns answered nothing after this; a cached list is older
    try:
        late: list[requests.Response] = []
        deadline = gone + DEADLINE
        while len(late) < 5 and time.monotonic() < deadline:
            sent = time.monotonic()
            answer = get(f"{aggregator.url}/api/v1/mix/")
            if sent >= gone + 2.0:
                late.append(answer)
        statuses = [answer.status_code for answer in late]
        assert statuses == [503] * 5, f"mixes asked for > 2 s after nouns went away: {statuses}"
        response = late[-1]
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["upstream"] == "nouns"
        assert get(f"{aggregator.url}/readyz").status_code == 503
    finally:
        nouns.start()
    assert wait_for(lambda: get(f"{aggregator.url}/api/v1/mix/").status_code == 200)


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
    verbs.mode, verbs.stall_seconds = "stall", 10.0
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
    """It stops by itself (exit status 0), not because the grace period ran out (SIGKILL)."""
    aggregator, _, _ = aggregator_with_stubs
    assert aggregator.stop() == 0


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
