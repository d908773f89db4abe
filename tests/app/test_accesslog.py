"""The access line (wordmix/accesslog.py): one valid JSON object per answer, with the request
id the app answered with, whatever a client sends."""

import io
import json
import time
from typing import Any

from wordmix.accesslog import with_access_log


def app_answering(headers: list[tuple[str, str]]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("404 Not Found", headers)
        return [b"nothing"]

    return app


def test_line_has_the_answer_request_id_status_and_size() -> None:
    out = io.StringIO()
    app = with_access_log(
        app_answering([("Content-Length", "7"), ("X-Request-ID", "abc123")]), stream=out
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/x",
        "QUERY_STRING": "a=1",
        "REMOTE_ADDR": "127.0.0.6",
        "HTTP_USER_AGENT": 'quote" newline\n brace{',
    }
    body = app(environ, lambda status, headers, *exc: None)
    assert list(body) == [b"nothing"]  # the body is handed on untouched
    app.flush()  # type: ignore[attr-defined]
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["request_id"] == "abc123"
    assert entry["status"] == "404"
    assert entry["bytes"] == "7"
    assert entry["path"] == "/x" and entry["query"] == "a=1" and entry["method"] == "GET"
    assert entry["remote"] == "127.0.0.6"
    assert entry["user_agent"] == 'quote" newline\n brace{'
    assert isinstance(entry["duration_ms"], float)


def test_answer_without_an_id_says_so() -> None:
    out = io.StringIO()
    app = with_access_log(app_answering([]), stream=out)
    app({"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz"}, lambda *args: None)
    app.flush()  # type: ignore[attr-defined]
    entry = json.loads(out.getvalue())
    assert entry["request_id"] == "-" and entry["bytes"] == "-"


def test_lines_reach_the_stream_by_themselves_soon() -> None:
    out = io.StringIO()
    app = with_access_log(app_answering([("X-Request-ID", "r1")]), stream=out)
    app({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *args: None)
    deadline = time.monotonic() + 2
    while not out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert json.loads(out.getvalue())["request_id"] == "r1"
