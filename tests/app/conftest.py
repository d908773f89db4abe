from collections.abc import Iterator
from typing import Any

import pytest

from tests.app.stack import SECRET, manage, word_service_env
from tests.app.upstreams import Service


@pytest.fixture
def admin_client_for(service: Any, staff_user: Any) -> Any:
    """Django's test client, logged into the admin of the word service under test."""
    from django.test import Client

    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[dict[str, Service]]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("stack")
    manage("collect", {"DJANGO_SECRET_KEY": SECRET}, "collectstatic", "--noinput", "-v", "0")
    services: dict[str, Service] = {}
    for name in ("verbs", "nouns"):
        env = word_service_env(name, tmp)
        manage(name, env, "migrate", "--noinput")
        manage(name, env, "ensure_admin")
        services[name] = Service(name, env)
    services["aggregator"] = Service(
        "aggregator",
        {
            "DJANGO_SECRET_KEY": SECRET,
            "VERBS_URL": services["verbs"].url,
            "NOUNS_URL": services["nouns"].url,
        },
    )
    try:
        for service in services.values():
            service.start()
        yield services
    finally:
        for service in services.values():
            service.stop()
