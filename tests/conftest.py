"""Fixtures shared by the app's tests (tests/app, tests/audit). Django and the app are
imported inside the fixtures, so the suites that do not need the app (security, deploy,
images) still load when the app is broken."""

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from rest_framework.test import APIClient

    from wordmix.words.models import Word


class WordService:
    """One of the two word services, as a test sees it."""

    def __init__(self, model: "type[Word]") -> None:
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


@pytest.fixture(params=["verbs", "nouns"])
def service(request: pytest.FixtureRequest, settings: Any) -> WordService:
    """Each word test runs against both services: same logic, two models, two URLconfs."""
    from django.apps import apps

    word_service = WordService(apps.get_model(request.param, request.param.removesuffix("s")))
    settings.ROOT_URLCONF = word_service.urlconf
    return word_service


@pytest.fixture
def staff_user(db: None) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        "editor", password="a-long-test-password", is_staff=True, is_superuser=True
    )


@pytest.fixture
def plain_user(db: None) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("reader", password="a-long-test-password")


def _api_client(user: Any = None) -> "APIClient":
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        token = Token.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anon() -> "APIClient":
    return _api_client()


@pytest.fixture
def staff(staff_user: Any) -> "APIClient":
    return _api_client(staff_user)


@pytest.fixture
def non_staff(plain_user: Any) -> "APIClient":
    return _api_client(plain_user)
