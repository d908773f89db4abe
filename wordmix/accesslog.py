"""One JSON access line per request, written around the whole Django application (so probes
and refusals are logged too) with the request id the app answered with (X-Request-ID,
also when the client sent none). Independent of the server: granian's own access log sees
only the request's headers.

The fields are those gunicorn's access line had: time, remote, method, path, query, status,
bytes, duration_ms, user_agent, request_id. Every value goes through json.dumps, so each
line is valid JSON whatever a client sends."""

import atexit
import collections
import json
import multiprocessing.util
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def enabled() -> bool:
    return os.environ.get("WORDMIX_ACCESS_LOG", "1") != "0"


def _line(environ: Environ, status: str, headers: list[tuple[str, str]], took: float) -> str:
    request_id, size = "-", "-"
    for name, value in headers:
        lowered = name.lower()
        if lowered == "x-request-id":
            request_id = value
        elif lowered == "content-length":
            size = value
    return json.dumps(
        {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "remote": environ.get("REMOTE_ADDR", "-"),
            "method": environ.get("REQUEST_METHOD", "-"),
            "path": environ.get("PATH_INFO", ""),
            "query": environ.get("QUERY_STRING", ""),
            "status": status.split(" ", 1)[0],
            "bytes": size,
            "duration_ms": round(took * 1000, 2),
            "user_agent": environ.get("HTTP_USER_AGENT", "-"),
            "request_id": request_id,
        },
        ensure_ascii=False,
    )


class _BatchWriter:
    """Lines collected in memory and written by one thread, a batch at a time.

    Measured under load: writing (and flushing) each line from the request's own thread cost
    ~40 % of the aggregator's CPU per answer, because every write released the GIL and the
    other server threads then queued on it and on the write lock. Appending to a deque takes
    no lock and makes no system call; the writer thread wakes every INTERVAL seconds, so a
    line reaches the log at most that late. The lines left are written when the process
    exits (atexit, and multiprocessing's exit hook for forked workers, which skip atexit)."""

    INTERVAL = 0.1

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.lines: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()  # only between the writer thread and the exit flush
        self._pid = -1

    def append(self, line: str) -> None:
        if self._pid != os.getpid():  # first line of this process: start its writer
            self._start()
        self.lines.append(line)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="access-log", daemon=True).start()
            atexit.register(self.flush)
            multiprocessing.util.Finalize(None, self.flush, exitpriority=100)

    def _run(self) -> None:
        while True:
            time.sleep(self.INTERVAL)
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch = []
            while self.lines:
                batch.append(self.lines.popleft())
            if batch:
                self.stream.write("\n".join(batch) + "\n")
                self.stream.flush()


def with_access_log(app: WSGIApp, stream: Any = None) -> WSGIApp:
    """`app` with an access line on `stream` (stdout) once each answer is built. The body is
    handed to the server untouched (a file answer keeps the server's file wrapper); its size
    is the Content-Length Django and whitenoise set."""
    writer = _BatchWriter(stream or sys.stdout)

    def logged(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: list[Any] = ["500", []]

        def remember(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            seen[0], seen[1] = status, headers
            return start_response(status, headers, *exc_info)

        body = app(environ, remember)
        writer.append(_line(environ, seen[0], seen[1], time.perf_counter() - started))
        return body

    logged.flush = writer.flush  # type: ignore[attr-defined]
    return logged
