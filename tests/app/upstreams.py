"""Real HTTP servers standing in for a word service, with switchable misbehaviour, and
helpers to start the real services under serve.py. Used by the aggregator's tests."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests import processes

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StubWordService:
    """A word service over real HTTP. `mode` is what it does next:
    ok, stall (answers after `stall_seconds`), garbage (200 with HTML), error (HTTP 500),
    wrong-shape (JSON without the list), empty (no words)."""

    def __init__(self, plural: str, singular: str, words: list[str]) -> None:
        self.plural, self.singular, self.words = plural, singular, list(words)
        self.mode = "ok"
        self.stall_seconds = 3.0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "StubWordService":
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the aggregator's pool expects

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                stub._connections.add(self.connection)

            def do_GET(self) -> None:
                stub.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                if stub.mode == "stall":
                    time.sleep(stub.stall_seconds)
                if stub.mode == "garbage":
                    return self._send(200, b"<html>oops</html>", "text/html")
                if stub.mode == "error":
                    return self._send(500, b'{"detail": "boom"}', "application/json")
                words = [] if stub.mode == "empty" else stub.words
                if self.path == "/all":
                    body = {"items": words} if stub.mode == "wrong-shape" else {stub.plural: words}
                elif self.path == f"/api/v1/{stub.plural}/random/":
                    if not words:
                        return self._send(404, b'{"detail": "none"}', "application/json")
                    body = {stub.singular: words[0]}
                elif self.path == "/healthz":
                    body = {"status": "ok"}
                else:
                    return self._send(404, b"{}", "application/json")
                self._send(200, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the aggregator gave up waiting, as it should

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Like a process that dies: the listener and every open connection are closed."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in list(self._connections):
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RDWR)
        self._connections.clear()


class Service:
    """One of our services under its server (serve.py, as the images start it), with
    production settings, on a free port."""

    def __init__(self, name: str, env: dict[str, str], port: int | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = ROOT / "var" / "test-logs" / f"{name}-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> "Service":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": f"wordmix.settings.{self.name}",
            "PORT": str(self.port),
            "WORDMIX_SERVER_HOST": "127.0.0.1",
            # Two workers, so that the tests also see answers from more than one process.
            "WORDMIX_SERVER_WORKERS": "2",
            "WORDMIX_SERVER_THREADS": "4",
            "WORDMIX_SERVER_GRACEFUL_TIMEOUT": "3",
            **self.env,
        }
        with self.log.open("ab") as log:
            self.process = processes.start(
                [sys.executable, str(ROOT / "serve.py")],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; log:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy in {timeout}s; log:\n{self.log.read_text()}")

    def stop(self) -> int | None:
        """SIGTERM to the server's process group; SIGKILL to whatever is left after a generous
        grace period. Returns the server's exit status (0: it stopped by itself)."""
        code = None
        if self.process is not None:
            code = processes.stop(self.process, signal.SIGTERM, grace=60)
        self.process = None
        return code
