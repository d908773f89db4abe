"""The seed data migration, health endpoints, and production settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from nouns.models import Noun
from tests.original import NOUNS, VERBS
from verbs.models import Verb

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_seed_holds_the_original_fifteen_words_each() -> None:
    assert sorted(Verb.objects.values_list("text", flat=True)) == sorted(VERBS)
    assert sorted(Noun.objects.values_list("text", flat=True)) == sorted(NOUNS)


@pytest.mark.django_db
def test_migrate_again_never_seeds_twice_nor_over_edits() -> None:
    Verb.objects.filter(text="run").delete()
    Verb.objects.filter(text="jump").update(text="hop")
    call_command("migrate", verbosity=0)
    texts = set(Verb.objects.values_list("text", flat=True))
    assert "run" not in texts and "jump" not in texts and "hop" in texts
    assert len(texts) == 14


@pytest.mark.django_db(transaction=True)
def test_seed_migration_replayed_adds_nothing_twice() -> None:
    """Unapplying the seed keeps people's words (its reverse is a no-op); applying it again
    finds the words there and adds none twice."""
    Verb.objects.create(text="zigzag")
    executor = MigrationExecutor(connection)
    executor.migrate([("verbs", "0001_initial")])
    assert Verb.objects.count() == 16
    executor.loader.build_graph()
    executor.migrate([("verbs", "0002_seed_words")])
    assert Verb.objects.count() == 16


@pytest.mark.django_db
def test_healthz_is_cheap_and_ignores_the_host(client, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.244.1.7:8000")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_readyz_checks_the_database(client) -> None:
    response = client.get("/readyz", HTTP_HOST="10.244.1.7:8000")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_readyz_reports_an_unreachable_database(tmp_path) -> None:
    env = _env(
        "verbs",
        DATABASE_URL="postgres://nobody:x@127.0.0.1:9/none",
        DJANGO_SECRET_KEY="k" * 50,
    )
    code = (
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/readyz', HTTP_HOST='10.0.0.1');"
        "print(r.status_code, r['Content-Type'], r.json()['detail'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("503 application/problem+json database 'default' is unreachable")


def _env(service: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env["DJANGO_SETTINGS_MODULE"] = f"wordmix.settings.{service}"
    env.update(extra)
    return env


@pytest.mark.parametrize("service", ["verbs", "nouns", "aggregator"])
def test_production_settings_refuse_to_start_without_a_secret_key(service: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=_env(service),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize("service", ["verbs", "nouns", "aggregator"])
def test_check_deploy_is_clean(service: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=_env(service, DJANGO_SECRET_KEY="x" * 30 + "production-like-key-0123456789abcdefgh"),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_debug_is_off_unless_asked() -> None:
    code = "from django.conf import settings; print(settings.DEBUG, settings.SESSION_COOKIE_SECURE)"
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + code],
        env=_env("verbs", DJANGO_SECRET_KEY="k" * 50),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["False", "True"]


@pytest.mark.django_db
def test_suite_runs_on_the_database_it_was_given() -> None:
    """`make test-app-postgres` must really run on PostgreSQL, not fall back to SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith("postgres") else "sqlite"
    assert connection.vendor == expected


def test_production_logs_are_json_lines_with_the_request_id() -> None:
    """In production each log record is one JSON object carrying the request's id."""
    code = (
        "import django, logging; django.setup();"
        "from django.test import Client;"
        "Client().get('/no-such-page', HTTP_X_REQUEST_ID='req-42', HTTP_HOST='localhost')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(
            "verbs",
            DJANGO_SECRET_KEY="k" * 50,
            DATABASE_URL="sqlite:///:memory:",
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    not_found = [r for r in records if r["logger"] == "django.request"]
    assert not_found, result.stderr
    assert not_found[0]["level"] == "WARNING"
    assert not_found[0]["request_id"] == "req-42"
    assert not_found[0]["status_code"] == 404
