"""Who may write, how often, and what happens to someone guessing: API tokens go through
django-axes' lockout like admin logins, and writes are rate-limited by DRF's throttling."""

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, JsonResponse
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from wordmix.problems import problem_response

# Failed token attempts are counted under this name, apart from any real user name.
TOKEN_CREDENTIALS = {"username": "<api token>"}
LOCKED_OUT = "Too many failed sign-in attempts; wait {minutes} minutes before trying again."


def _lockout_message() -> str:
    return LOCKED_OUT.format(minutes=int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))


class LockoutTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with every bad token recorded by django-axes as a failed
    login; past the limit, the client gets 429 whatever token it sends."""

    def authenticate(self, request: Request) -> Any:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # no token: nothing to count, and no lockout look-up on reads
        django_request = request._request
        if not AxesProxyHandler.is_allowed(django_request, TOKEN_CREDENTIALS):
            raise Throttled(detail=_lockout_message())
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            user_login_failed.send(
                sender=type(self), credentials=TOKEN_CREDENTIALS, request=django_request
            )
            raise


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """django-axes' answer to a locked-out admin login: a problem, like every other error.
    (axes passes the credentials as well; what we say does not depend on them.)"""
    return problem_response(429, _lockout_message())


class WriteRateThrottle(SimpleRateThrottle):
    """At most settings.WORDMIX_WRITE_RATE writes per user (or address) per period; reads
    are never throttled. The rate is read from settings on each use, so it can be changed
    in tests and by environment without touching DRF's class-level defaults."""

    scope = "writes"

    def get_rate(self) -> str:
        return str(settings.WORDMIX_WRITE_RATE)

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = request.user
        ident = user.pk if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
