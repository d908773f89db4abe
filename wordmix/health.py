"""/healthz and /readyz, answered before anything else in the middleware chain.

Liveness is cheap (the process answers). Readiness checks what the service needs: its
database for a word service, its two upstreams for the aggregator."""

from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse

from wordmix.problems import problem_response


def _database_ready() -> str | None:
    """None when every configured database answers a query, else what failed."""
    for alias in connections:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as error:
            return f"database {alias!r} is unreachable: {error.__class__.__name__}"
    return None


def _upstreams_ready() -> str | None:
    from aggregator.upstream import check_upstreams

    return check_upstreams()


class HealthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.readiness_check = (
            _upstreams_ready if settings.WORDMIX_SERVICE == "aggregator" else _database_ready
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return JsonResponse({"status": "ok", "service": settings.WORDMIX_SERVICE})
        if request.path == "/readyz":
            problem = self.readiness_check()
            if problem:
                return problem_response(503, problem, service=settings.WORDMIX_SERVICE)
            return JsonResponse({"status": "ready", "service": settings.WORDMIX_SERVICE})
        return self.get_response(request)
