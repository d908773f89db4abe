"""Fixtures shared by the app's tests."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from nouns.models import Noun
from verbs.models import Verb
from wordmix.words.models import Word


class WordService:
    """One of the two word services, as a test sees it."""

    def __init__(self, model: type[Word]) -> None:
        self.model = model
        self.singular = model.singular
        self.plural = model.plural
        self.urlconf = f"wordmix.urls.{model.plural}"
        self.list_url = f"/api/v1/{model.plural}/"

    def detail_url(self, pk: int) -> str:
        return f"{self.list_url}{pk}/"

    def texts(self) -> list[str]:
        return list(self.model.objects.order_by("text").values_list("text", flat=True))

    def __repr__(self) -> str:
        return self.plural


@pytest.fixture(params=[Verb, Noun], ids=["verbs", "nouns"])
def service(request: pytest.FixtureRequest, settings) -> WordService:  # type: ignore[no-untyped-def]
    """Each word test runs against both services: same logic, two models, two URLconfs."""
    word_service = WordService(request.param)
    settings.ROOT_URLCONF = word_service.urlconf
    return word_service


@pytest.fixture
def staff_user(db):  # type: ignore[no-untyped-def]
    return get_user_model().objects.create_user(
        "editor", password="a-long-test-password", is_staff=True, is_superuser=True
    )


@pytest.fixture
def plain_user(db):  # type: ignore[no-untyped-def]
    return get_user_model().objects.create_user("reader", password="a-long-test-password")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def staff(staff_user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    token = Token.objects.create(user=staff_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def non_staff(plain_user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    token = Token.objects.create(user=plain_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
