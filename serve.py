#!/usr/bin/env python3
"""The server of the three images, and its one configuration: `python serve.py` runs
`wordmix.wsgi:application` under granian (WSGI), with DJANGO_SETTINGS_MODULE choosing the
service. The images, compose, the cluster, `make bench` and the integration tests all start
the services this way.

Why granian and not gunicorn (the README's decision table has the figures): under load,
gunicorn's gthread worker spent most of the aggregator's CPU on its own Python request loop
(socket writes, epoll, keep-alive re-queuing, the access line), and with it the mix could not
reach twice the Node original's throughput at half its CPU. Granian parses HTTP and handles
connections in Rust threads outside the GIL, and only calls the app in Python.

Every knob is an environment variable (the GUNICORN_* variables of before, renamed):

| variable | default | meaning |
| --- | --- | --- |
| PORT | 8000 | port to listen on |
| WORDMIX_SERVER_HOST | 0.0.0.0 | address to listen on (the bench and tests use loopback) |
| WORDMIX_SERVER_WORKERS | 1 | worker processes (sized for 128 MiB and 500m CPU, see below) |
| WORDMIX_SERVER_THREADS | 8 | threads calling the app in each worker (the word services |
|  |  | wait on PostgreSQL) |
| WORDMIX_SERVER_GRACEFUL_TIMEOUT | 5 | seconds a worker gets after SIGTERM before it is killed |
| WORDMIX_SERVER_BACKLOG | 1024 | pending connections the socket holds |
| WORDMIX_SERVER_LOG_LEVEL | info | the server's own log |
| WORDMIX_ACCESS_LOG | 1 | 0 turns off the JSON access line (wordmix/accesslog.py) |

ONE worker process: measured in the image test, a loaded Django process here is ~65 MiB
resident; two workers left a service at ~100 MiB and a `manage.py` command exec'd into the
container (another ~45 MiB) got it OOM-killed. A second process would buy no CPU either:
half a CPU is less than one process can use.

Keep-alive: granian keeps an idle client connection open until the client closes it, so a
proxy in front (its idle timeout ~60 s) always closes first and no request races a close
(what gunicorn's keepalive = 75 s was for). The worker is forked, not exec'd, from this
process (multiprocessing's fork start method), so no Python process starts another program.
"""

import os

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import Server

TARGET = "wordmix.wsgi:application"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not an integer.") from None


def settings() -> dict[str, object]:
    """What the server runs with; `make bench` records it with its figures."""
    return {
        "name": "granian",
        # A container listens on its pod's address, whichever it is.
        "host": os.environ.get("WORDMIX_SERVER_HOST", "0.0.0.0"),  # noqa: S104  # nosec B104
        "port": _env_int("PORT", 8000),
        "workers": _env_int("WORDMIX_SERVER_WORKERS", 1),
        "threads": _env_int("WORDMIX_SERVER_THREADS", 8),
        "graceful_timeout": _env_int("WORDMIX_SERVER_GRACEFUL_TIMEOUT", 5),
        "backlog": _env_int("WORDMIX_SERVER_BACKLOG", 1024),
        "log_level": os.environ.get("WORDMIX_SERVER_LOG_LEVEL", "info"),
        "access_log": os.environ.get("WORDMIX_ACCESS_LOG", "1") != "0",
    }


def server(config: dict[str, object]) -> Server:
    return Server(
        TARGET,
        address=str(config["host"]),
        port=int(config["port"]),  # type: ignore[call-overload]
        interface=Interfaces.WSGI,
        workers=int(config["workers"]),  # type: ignore[call-overload]
        blocking_threads=int(config["threads"]),  # type: ignore[call-overload]
        http=HTTPModes.http1,
        websockets=False,
        backlog=int(config["backlog"]),  # type: ignore[call-overload]
        http1_settings=HTTP1Settings(keep_alive=True),
        log_level=LogLevels(str(config["log_level"])),
        # The access line is written by the app's WSGI wrapper, which knows the request id
        # the app answered with (granian's own access log sees only the request's headers).
        log_access=False,
        workers_kill_timeout=int(config["graceful_timeout"]),  # type: ignore[call-overload]
    )


if __name__ == "__main__":
    server(settings()).serve()
