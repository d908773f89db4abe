"""The three services with production settings under gunicorn, migrated and with an admin
user: what the integration and browser tests run against."""

import os
import subprocess
import sys
from pathlib import Path

from tests.app.upstreams import ROOT

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
    subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": f"wordmix.settings.{name}", **env},
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def staff_token(name: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", "drf_create_token", "editor"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": f"wordmix.settings.{name}", **env},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()[2]  # "Generated token <key> for user editor"
