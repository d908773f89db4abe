"""Request ids, trace-header propagation and JSON logs.

Istio's sidecars make the spans, but only the application can carry the trace context from
an incoming request to the calls it makes, so the aggregator forwards these headers."""

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# The headers Istio (Envoy) uses for tracing: W3C trace context, B3 (Zipkin), and its own.
TRACE_HEADERS = (
    "x-request-id",
    "traceparent",
    "tracestate",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
    "x-ot-span-context",
)

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_trace_headers: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "trace_headers", default=None
)
# An incoming id is echoed in logs and headers: accept only a sane token.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("wordmix.access")


def outgoing_trace_headers() -> dict[str, str]:
    """The trace headers of the request being served, to send on upstream calls."""
    return dict(_trace_headers.get() or {})


def valid_request_id(incoming: str) -> str:
    """The client's id when it is a sane token, else a new one."""
    return incoming if _SAFE_ID.fullmatch(incoming) else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("x-request-id", "")
        request_id = valid_request_id(incoming)
        headers = {
            name: request.headers[name]
            for name in TRACE_HEADERS
            if name in request.headers and len(request.headers[name]) <= 512
        }
        headers["x-request-id"] = request_id
        request.request_id = request_id  # type: ignore[attr-defined]
        id_token = _request_id.set(request_id)
        headers_token = _trace_headers.set(headers)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            if access_log.isEnabledFor(logging.DEBUG):
                access_log.debug(
                    "%s %s %s",
                    request.method,
                    request.path,
                    response.status_code,
                    extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)},
                )
            return response
        finally:
            _request_id.reset(id_token)
            _trace_headers.reset(headers_token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs a 4xx/5xx answer after the middleware chain has returned (and reset the
        # context), but hands the request to the record: take the id from there.
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, so the cluster's log tools can read fields."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"request_id", "message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in record.__dict__.items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
