"""Gunicorn's configuration for the three images (gunicorn reads it with `--config`).

Every knob the benchmark may want to tune is an environment variable; the defaults are sized
for the cluster's limits (128 MiB memory, 500m CPU per container): ONE worker process with
eight threads. Measured in the image test: a loaded Django process here is ~65 MiB resident,
of which a forked worker keeps ~25 MiB private, so two workers left a service at ~100 MiB and
a `manage.py` command exec'd into the container (another ~45 MiB, e.g. createsuperuser) got
the container OOM-killed. A second process would buy no CPU either: half a CPU is less than
one process can use. The app mostly waits on PostgreSQL or on the word services, and threads
give that concurrency cheaply.
"""

import gc
import json
import os

from gunicorn import glogging


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not an integer.") from None


bind = [f"0.0.0.0:{_env_int('PORT', 8000)}"]

workers = _env_int("GUNICORN_WORKERS", 1)
threads = _env_int("GUNICORN_THREADS", 8)
worker_class = "gthread" if threads > 1 else "sync"

# The app is imported in the worker, not in the master: with one worker, preloading only
# kept a second copy of Django in the master. Measured by `make bench` (sum of RSS of master
# and worker after load): verbs 132 -> 97 MiB, aggregator 120 -> 92 MiB (PSS 77 -> 70, 72 ->
# 65). GUNICORN_PRELOAD=1 turns it back on, e.g. for several workers sharing pages.
preload_app = os.environ.get("GUNICORN_PRELOAD", "0") == "1"

timeout = _env_int("GUNICORN_TIMEOUT", 30)
# Kubernetes waits terminationGracePeriodSeconds (30 s) after SIGTERM; our requests take
# milliseconds, so in-flight ones finish well within 5 s and a rollout is not held up.
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 5)
# Longer than the idle timeouts of the usual proxies in front (60 s), so the proxy, not
# gunicorn, closes idle connections; otherwise a request can race gunicorn's close and fail.
keepalive = _env_int("GUNICORN_KEEPALIVE", 75)

# No recycling by default. Under `make bench` load, max_requests=5000 restarted the only
# worker every ~3 s and tripled the tail (ceiling p99 180-264 ms against 57-108 ms without),
# and without preloading each restart is a fresh import. The aggregator's worker was still at
# 92 MiB RSS after the bench's ~70,000 requests. 0 turns it off; the jitter keeps several
# workers, if configured, from restarting together.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 500)

# The root filesystem is read-only: the heartbeat files go to /tmp, a tmpfs (compose) or an
# emptyDir (Kubernetes), and gunicorn's control socket (it would live under $HOME) is off.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", "/tmp")  # noqa: S108  # nosec B108
control_socket_disable = True

# Behind the Istio sidecar, requests reach the app from Envoy on the loopback addresses
# (127.0.0.6 is Envoy's inbound passthrough source); only those may set X-Forwarded-*.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,127.0.0.6,::1")

loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
errorlog = "-"
accesslog = None if os.environ.get("GUNICORN_ACCESS_LOG", "1") == "0" else "-"
access_log_format = json.dumps(
    {
        "time": "%(t)s",
        "remote": "%(h)s",
        "method": "%(m)s",
        "path": "%(U)s",
        "query": "%(q)s",
        "status": "%(s)s",
        "bytes": "%(B)s",
        "duration_ms": "%(M)s",
        "user_agent": "%(a)s",
        # The response's header: the id the app used, also when the client sent none.
        "request_id": "%({x-request-id}o)s",
    }
)


class _JsonAtoms(glogging.SafeAtoms):
    """Escapes every value the JSON way, so each access line is valid JSON whatever a client
    sends (gunicorn's own escaping handles only double quotes)."""

    def __init__(self, atoms: dict[str, object]) -> None:
        super().__init__({})
        for key, value in atoms.items():
            self[key] = json.dumps(value if isinstance(value, str) else str(value))[1:-1]


class JsonAccessLogger(glogging.Logger):
    atoms_wrapper_class = _JsonAtoms


logger_class = JsonAccessLogger


def when_ready(server: object) -> None:
    # With a preloaded app, the objects created while importing it live as long as the
    # process; freezing them keeps the garbage collector from writing to (and so un-sharing)
    # their pages after fork. Without preloading the master holds no app to share.
    if preload_app:
        gc.freeze()
