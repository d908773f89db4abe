"""One error body for every service: RFC 9457 problem details (application/problem+json).
DRF's exceptions, our word errors and Django's own 404/500 all end up here."""

from typing import Any

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from wordmix.words.rules import InvalidWord

PROBLEM_CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """An error that is answered as a problem with its own status, whichever view raised it."""

    status: int = 500

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def problem_body(status: int, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }


def problem_response(status: int, detail: str, **extra: Any) -> JsonResponse:
    """A plain Django response, for code outside DRF (middleware, error handlers)."""
    return JsonResponse(
        problem_body(status, detail, **extra),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            message = _first_message(value)
            return message if key in ("non_field_errors", "detail") else f"{key}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def drf_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    # Imported here: rest_framework.views loads the authentication classes from settings,
    # and those import this module.
    from rest_framework.views import exception_handler

    if isinstance(exc, InvalidWord):
        exc = exceptions.ValidationError({"text": [str(exc)]})
    elif isinstance(exc, Problem):
        return _problem(exc.status, exc.detail, exc.extra)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's handler500 answers, as a problem too
    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        extra["errors"] = response.data
    problem = _problem(response.status_code, _first_message(response.data), extra)
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response.headers:
            problem[header] = response.headers[header]
    return problem


def _problem(status: int, detail: str, extra: dict[str, Any]) -> Response:
    return Response(
        problem_body(status, detail, **extra), status=status, content_type=PROBLEM_CONTENT_TYPE
    )


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    # Django answers its own refusals (SuspiciousOperation) here; say which one it was.
    if isinstance(exception, RequestDataTooBig):
        return problem_response(
            413,
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes, "
            "the most this service accepts.",
        )
    if isinstance(exception, DisallowedHost):
        return problem_response(400, "The Host header names a host this service does not serve.")
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return problem_response(400, "The request has more form fields or files than allowed.")
    return problem_response(400, "The request could not be understood.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(403, "You do not have permission to do this.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(404, f"Nothing is at {request.path}.")


def handler500(request: HttpRequest) -> JsonResponse:
    return problem_response(500, "Something went wrong on our side; it has been logged.")
