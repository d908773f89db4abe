"""What every test run has: its own signal handlers and the check that nothing it started
is left running (below); and the fixtures shared by the app's tests (tests/app,
tests/audit). Django and the app are imported inside the fixtures, so the suites that do not
need the app (security, deploy, images) still load when the app is broken."""

import os
import signal
import uuid
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

from tests import processes

if TYPE_CHECKING:
    from rest_framework.test import APIClient

    from wordmix.words.models import Word


# --------------------------------------------------------------------------------------
# Nothing left running. Every process started under this run inherits MARKER=SESSION_ID;
# when the run ends, any process still carrying it is named, killed, and fails the run.

SESSION_ID = uuid.uuid4().hex


def _raise_keyboard_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def pytest_configure(config: pytest.Config) -> None:
    os.environ[processes.MARKER] = SESSION_ID
    # Set explicitly, whatever was inherited (a background job starts with SIGINT ignored):
    # Ctrl-C, and the SIGTERM of a CI's timeout, end the run through pytest's own
    # KeyboardInterrupt path, which still tears the fixtures down and stops their processes.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def _remove_leftovers(session: pytest.Session) -> str | None:
    """Kill every process still carrying this run's marker and remove the containers of
    this run's compose project; describe them, or None when there was nothing."""
    found = []
    left = processes.marked(SESSION_ID, exclude=(os.getpid(),))
    if left:
        processes.kill_all(left)
        found += [f"  {info}" for info in left]
    if any(item.nodeid.startswith("tests/images/") for item in session.items):
        from tests.images.containers import compose_project, leftover_containers, podman

        containers = leftover_containers(compose_project())
        if containers:
            podman("rm", "-f", "-v", *containers, check=False, timeout=300)
            found += [f"  container {name}" for name in containers]
    if not found:
        return None
    return "started under this test run and still running at its end (now removed):\n" + (
        "\n".join(found)
    )


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """Set up before, and torn down after, every other fixture: what is still running then
    was left by a test or a fixture, and is an error of the last test (pytest counts it)."""
    yield
    left = _remove_leftovers(request.session)
    if left:
        pytest.fail(left, pytrace=False)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The same check once pytest has torn everything down, also after Ctrl-C or an
    internal error, when the fixture above may not have run."""
    left = _remove_leftovers(session)
    if left:
        print(f"\n\nERROR: {left}", flush=True)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
