"""The word API, written once and bound to a model by `word_api_urls(model)`.

Each view validates its input, calls one service or selector, and serialises the result;
errors become problem+json through wordmix.problems."""

import csv
from typing import Any

from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import filters, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from wordmix import lean
from wordmix.problems import PROBLEM_CONTENT_TYPE, problem_body
from wordmix.words import rules, selectors, services, transfer
from wordmix.words.models import Word
from wordmix.words.parsers import PlainTextParser


class WordPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    # DRF's default is a bare "Invalid page."; say which page and why (Django's paginator
    # explains: not an integer, less than 1, or past the last page).
    invalid_page_message = "There is no page {page_number!r}: {message}."


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error is answered."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()


PROBLEM = OpenApiResponse(ProblemSerializer, description="Problem details (RFC 9457).")


class RejectedWordSerializer(serializers.Serializer):
    text = serializers.CharField()
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    added = serializers.ListField(child=serializers.CharField())
    duplicates = serializers.ListField(child=serializers.CharField())
    rejected = RejectedWordSerializer(many=True)


class WordTextField(serializers.CharField):
    """A word must arrive as a JSON string: DRF's CharField turns 42 into "42", true into
    "True" and 1e400 into "inf" (a word, by the rules)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(rules.NOT_A_STRING)
        return str(super().to_internal_value(data))


class WordSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    text = WordTextField(
        # Length and blankness are word rules: rules.clean checks them, with its messages.
        max_length=1000,
        allow_blank=True,
        error_messages={
            "max_length": f"A word has at most {rules.MAX_LENGTH} characters; this one has "
            "more than 1000."
        },
        trim_whitespace=False,
        help_text="Letters, with single inner hyphens or apostrophes; 1-40 characters.",
    )
    # The word rules themselves are applied once, by the service the view calls.
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


def _word_viewset(model: type[Word]) -> type[viewsets.GenericViewSet]:
    singular, plural = model.singular, model.plural
    write_errors = {
        400: PROBLEM,
        401: PROBLEM,
        403: PROBLEM,
        409: OpenApiResponse(ProblemSerializer, description=f"The {singular} already exists."),
    }

    @extend_schema(tags=[plural])
    class WordViewSet(
        mixins.ListModelMixin,
        mixins.RetrieveModelMixin,
        viewsets.GenericViewSet,
    ):
        serializer_class = WordSerializer
        pagination_class = WordPagination
        filter_backends = [filters.SearchFilter, filters.OrderingFilter]
        search_fields = ["text"]
        ordering_fields = ["text", "created_at", "updated_at", "id"]
        ordering = ["text"]

        def get_queryset(self) -> Any:
            return selectors.word_queryset(model)

        @extend_schema(responses={201: WordSerializer, **write_errors})
        def create(self, request: Request) -> Response:
            serializer = self.get_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            word = services.word_create(model=model, text=serializer.validated_data["text"])
            return Response(self.get_serializer(word).data, status=status.HTTP_201_CREATED)

        @extend_schema(responses={200: WordSerializer, 404: PROBLEM, **write_errors})
        def update(self, request: Request, pk: str | None = None) -> Response:
            word = self.get_object()
            serializer = self.get_serializer(word, data=request.data)
            serializer.is_valid(raise_exception=True)
            word = services.word_update(word=word, text=serializer.validated_data["text"])
            return Response(self.get_serializer(word).data)

        @extend_schema(responses={200: WordSerializer, 404: PROBLEM, **write_errors})
        def partial_update(self, request: Request, pk: str | None = None) -> Response:
            word = self.get_object()
            serializer = self.get_serializer(word, data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            if "text" in serializer.validated_data:
                word = services.word_update(word=word, text=serializer.validated_data["text"])
            return Response(self.get_serializer(word).data)

        @extend_schema(responses={204: None, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM})
        def destroy(self, request: Request, pk: str | None = None) -> Response:
            services.word_delete(word=self.get_object())
            return Response(status=status.HTTP_204_NO_CONTENT)

        @extend_schema(
            responses={
                200: inline_serializer(
                    f"Random{singular.title()}", {singular: serializers.CharField()}
                ),
                404: PROBLEM,
            }
        )
        @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
        def random(self, request: Request) -> Response:
            return _random_answer(model)

        @extend_schema(
            parameters=[
                OpenApiParameter("type", enum=list(transfer.FORMATS), default="txt"),
            ],
            responses={
                (200, "text/plain"): OpenApiTypes.STR,
                (200, "text/csv"): OpenApiTypes.STR,
                400: PROBLEM,
            },
        )
        @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
        def export(self, request: Request) -> HttpResponse:
            """The whole list as text (one word per line) or CSV; imports back unchanged."""
            kind = request.query_params.get("type", "txt")
            if kind not in transfer.FORMATS:
                raise ValidationError({"type": [f"Use one of: {', '.join(transfer.FORMATS)}."]})
            response = HttpResponse(
                transfer.render(model.objects.all(), kind), content_type=transfer.FORMATS[kind]
            )
            response["Content-Disposition"] = f'attachment; filename="{plural}.{kind}"'
            return response

        @extend_schema(
            request={"text/plain": OpenApiTypes.STR, "text/csv": OpenApiTypes.STR},
            responses={200: ImportReportSerializer, **write_errors},
        )
        @action(
            detail=False,
            methods=["post"],
            url_path="import",
            parser_classes=[PlainTextParser],
            pagination_class=None,
            filter_backends=[],
        )
        def import_words(self, request: Request) -> Response:
            """Add the words of a text or CSV body (an export works); reports each outcome."""
            if not isinstance(request.data, str):
                raise ParseError("Send the words as a text/plain or text/csv body.")
            try:
                lines = transfer.parse_import(request.data)
            except csv.Error as error:
                raise ParseError(f"The body is not readable as CSV: {error}.") from None
            report = services.words_import(model=model, lines=lines)
            return Response(
                {
                    "added": report.added,
                    "duplicates": report.duplicates,
                    "rejected": [{"text": t, "reason": r} for t, r in report.rejected],
                }
            )

    WordViewSet.__name__ = f"{singular.title()}ViewSet"
    WordViewSet.__qualname__ = WordViewSet.__name__
    return WordViewSet


def _random(model: type[Word]) -> lean.Answer:
    text = selectors.word_random(model)
    if text is None:
        return 404, problem_body(404, f"There are no {model.plural} yet."), PROBLEM_CONTENT_TYPE
    return lean.ok({model.singular: text})


def _random_answer(model: type[Word]) -> Response:
    status_code, body, content_type = _random(model)
    return Response(body, status=status_code, content_type=content_type)


def _original_views(model: type[Word]) -> list[URLPattern]:
    """The Node original's routes, same shapes: GET /random, GET /all, POST /add."""
    singular, plural = model.singular, model.plural
    one = inline_serializer(f"Original{singular.title()}", {singular: serializers.CharField()})
    many = inline_serializer(
        f"Original{plural.title()}", {plural: serializers.ListField(child=serializers.CharField())}
    )

    class OriginalRandom(APIView):
        @extend_schema(tags=["original"], responses={200: one, 404: PROBLEM})
        def get(self, request: Request) -> Response:
            return _random_answer(model)

    class OriginalAll(APIView):
        @extend_schema(tags=["original"], responses={200: many})
        def get(self, request: Request) -> Response:
            return Response({plural: selectors.word_texts(model)})

    class OriginalAdd(APIView):
        @extend_schema(
            tags=["original"],
            request=one,
            responses={201: one, 400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 409: PROBLEM},
        )
        def post(self, request: Request) -> Response:
            if not isinstance(request.data, dict) or singular not in request.data:
                raise serializers.ValidationError(
                    {singular: [f'Send a JSON object like {{"{singular}": "..."}}.']}
                )
            word = services.word_create(model=model, text=request.data[singular])
            return Response({singular: word.text}, status=status.HTTP_201_CREATED)

    for view in (OriginalRandom, OriginalAll, OriginalAdd):
        view.__name__ = view.__qualname__ = f"{view.__name__}{singular.title()}"
    return [
        path(
            "random",
            lean.hot_read(OriginalRandom.as_view(), lambda: _random(model)),
            name=f"{singular}-original-random",
        ),
        path(
            "all",
            lean.hot_read(
                OriginalAll.as_view(), lambda: lean.ok({plural: selectors.word_texts(model)})
            ),
            name=f"{singular}-original-all",
        ),
        path("add", OriginalAdd.as_view(), name=f"{singular}-original-add"),
    ]


def word_api_urls(model: type[Word]) -> list[URLPattern | URLResolver]:
    router = SimpleRouter()
    router.register(model.plural, _word_viewset(model), basename=model.singular)
    # The router's random action is the aggregator's fan-out call: served by the lean path.
    random_name = f"{model.singular}-random"
    routes = [
        URLPattern(
            route.pattern,
            lean.hot_read(route.callback, lambda: _random(model)),
            route.default_args,
            route.name,
        )
        if isinstance(route, URLPattern) and route.name == random_name
        else route
        for route in router.urls
    ]
    return [
        path("api/v1/", include(routes)),
        *_original_views(model),
    ]
