from collections.abc import Iterator
from typing import Any

import pytest

from tests.app.stack import prepare_stack, running
from tests.app.upstreams import Service


@pytest.fixture
def admin_client_for(service: Any, staff_user: Any) -> Any:
    """Django's test client, logged into the admin of the word service under test."""
    from django.test import Client

    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Service]]:
    with running(prepare_stack(tmp_path_factory.mktemp("stack"))) as services:
        yield services
