"""The three services with production settings under serve.py, migrated and with an admin
user: what the integration and browser tests run against."""

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tests import processes
from tests.app.upstreams import ROOT

if TYPE_CHECKING:
    from tests.app.upstreams import Service

SECRET = "integration-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def word_service_env(name: str, tmp: Path) -> dict[str, str]:
    env = {
        "DJANGO_SECRET_KEY": SECRET,
        "DJANGO_DEBUG": "0",
        "WORDMIX_ADMIN_USER": "editor",
        "WORDMIX_ADMIN_PASSWORD": "integration-password-42",
    }
    # On PostgreSQL (DATABASE_URL set) each service gets its own database, as in the cluster.
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgres"):
        env["DATABASE_URL"] = base.rsplit("/", 1)[0] + f"/{name}_integration"
        _recreate_postgres_database(base, f"{name}_integration")
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp / f'{name}.sqlite3'}"
    return env


def _recreate_postgres_database(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def manage(name: str, env: dict[str, str], *args: str) -> None:
    processes.run(
        [sys.executable, "manage.py", *args],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": f"wordmix.settings.{name}", **env},
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )


def staff_token(name: str, env: dict[str, str]) -> str:
    out = processes.run(
        [sys.executable, "manage.py", "drf_create_token", "editor"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": f"wordmix.settings.{name}", **env},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    return out.split()[2]  # "Generated token <key> for user editor"


def prepare_stack(tmp: Path, word_env: dict[str, str] | None = None) -> dict[str, "Service"]:
    """Static files collected, both word databases migrated (seeded) with an admin user, and
    the three services ready to start (not started): verbs, nouns and an aggregator on them."""
    from tests.app.upstreams import Service

    manage("collect", {"DJANGO_SECRET_KEY": SECRET}, "collectstatic", "--noinput", "-v", "0")
    services: dict[str, Service] = {}
    for name in ("verbs", "nouns"):
        env = {**word_service_env(name, tmp), **(word_env or {})}
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
    return services


@contextlib.contextmanager
def running(services: dict[str, "Service"]) -> Iterator[dict[str, "Service"]]:
    """Start every service, and stop every one of them whatever happens."""
    try:
        for service in services.values():
            service.start()
        yield services
    finally:
        for service in services.values():
            service.stop()
