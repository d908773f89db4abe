"""Run inside scripts/with-postgres.sh (which exports DATABASE_URL for a superuser of a
throwaway server): apply deploy/base/postgres/init-databases.sh as the postgres image's
entrypoint would, then report as JSON what each service's role can and cannot do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parents[2]
# Quotes, a backslash and a space: the script must pass any password through psql safely.
PASSWORDS = {"verbs": "v'erbs \"pass\\word", "nouns": "n0uns-p4ss"}


def connect(url: object, user: str, password: str, dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        host=url.hostname,
        port=url.port,
        user=user,
        password=password,
        dbname=dbname,
        connect_timeout=5,
    )


def attempt(action: object) -> str:
    try:
        action()
    except psycopg.Error as error:
        return f"refused: {str(error).strip().splitlines()[0]}"
    return "ok"


def main() -> None:
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "PGHOST": url.hostname,
        "PGPORT": str(url.port),
        "PGPASSWORD": url.password,
        "POSTGRES_USER": url.username,
        "POSTGRES_DB": url.path.lstrip("/"),
        "VERBS_DB_PASSWORD": PASSWORDS["verbs"],
        "NOUNS_DB_PASSWORD": PASSWORDS["nouns"],
    }
    script = ROOT / "deploy/base/postgres/init-databases.sh"
    init = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    report: dict[str, object] = {
        "init_rc": init.returncode,
        "init_output": init.stdout + init.stderr,
    }

    def own_database(name: str) -> None:
        with connect(url, name, PASSWORDS[name], name) as conn:
            conn.execute("CREATE TABLE words (text text)")
            conn.execute("INSERT INTO words VALUES ('x')")

    def other_database(name: str, other: str) -> None:
        connect(url, name, PASSWORDS[name], other).close()

    def wrong_password(name: str) -> None:
        connect(url, name, "not-the-password", name).close()

    for name, other in (("verbs", "nouns"), ("nouns", "verbs")):
        report[name] = {
            "own": attempt(lambda n=name: own_database(n)),
            "other": attempt(lambda n=name, o=other: other_database(n, o)),
            "wrong_password": attempt(lambda n=name: wrong_password(n)),
        }
    # Initialisation runs once per data directory; a second run must fail loudly, not half-work.
    again = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    report["second_run_rc"] = again.returncode
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
