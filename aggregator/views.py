from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregator import upstream
from wordmix import lean
from wordmix.words.api import ProblemSerializer

UPSTREAM_PROBLEMS = {
    502: OpenApiResponse(ProblemSerializer, description="A word service gave a bad answer."),
    503: OpenApiResponse(ProblemSerializer, description="A word service cannot be reached."),
    504: OpenApiResponse(ProblemSerializer, description="A word service was too slow."),
}


class MixView(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "Mix", {"verb": serializers.CharField(), "noun": serializers.CharField()}
            ),
            **UPSTREAM_PROBLEMS,
        }
    )
    def get(self, request: Request) -> Response:
        return Response(mix_body())


def mix_body() -> dict[str, str]:
    verb, noun = upstream.random_mix()
    return {"verb": verb, "noun": noun}


class PingView(APIView):
    """A trivial JSON answer through the same middleware and server as the mix: the
    benchmark's ceiling, the fastest this stack can answer anything."""

    @extend_schema(responses={200: inline_serializer("Pong", {"pong": serializers.BooleanField()})})
    def get(self, request: Request) -> Response:
        return Response({"pong": True})


class OriginalRandomView(APIView):
    """The Node original's shape: {"verb": {"verb": ...}, "noun": {"noun": ...}}."""

    @extend_schema(
        tags=["original"],
        responses={
            200: inline_serializer(
                "OriginalMix",
                {
                    "verb": inline_serializer("OriginalVerb", {"verb": serializers.CharField()}),
                    "noun": inline_serializer("OriginalNoun", {"noun": serializers.CharField()}),
                },
            ),
            **UPSTREAM_PROBLEMS,
        },
    )
    def get(self, request: Request) -> Response:
        return Response(original_body())


def original_body() -> dict[str, dict[str, str]]:
    verb, noun = upstream.random_mix()
    return {"verb": {"verb": verb}, "noun": {"noun": noun}}


def hot_reads() -> dict[str, Any]:
    """What wordmix.lean.HotReads may answer before Django: the mix and the original's shape,
    from fresh lists only (None: Django's full path)."""

    def mix() -> dict[str, str] | None:
        picked = upstream.fresh_mix()
        return None if picked is None else {"verb": picked[0], "noun": picked[1]}

    def original() -> dict[str, dict[str, str]] | None:
        picked = upstream.fresh_mix()
        return (
            None if picked is None else {"verb": {"verb": picked[0]}, "noun": {"noun": picked[1]}}
        )

    return {"/api/v1/mix/": mix, "/random": original}


# The URLconf's views: plain reads answered directly, everything else by DRF (wordmix.lean).
mix = lean.hot_read(MixView.as_view(), lambda: lean.ok(mix_body()))
original_random = lean.hot_read(OriginalRandomView.as_view(), lambda: lean.ok(original_body()))


def index(request: HttpRequest) -> HttpResponse:
    """The page shows a first mix rendered here, so it works without JavaScript; the button
    asks /api/v1/mix/ for the next one (static script, no inline code: CSP-friendly)."""
    context: dict[str, object] = {
        "verbs_admin_url": settings.VERBS_ADMIN_URL,
        "nouns_admin_url": settings.NOUNS_ADMIN_URL,
    }
    status = 200
    try:
        context["verb"], context["noun"] = upstream.random_mix()
    except upstream.UpstreamError as error:
        context["error"] = error.detail
        status = error.status
    return render(request, "aggregator/index.html", context, status=status)
