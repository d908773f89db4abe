"""schemathesis against the OpenAPI schema of each service, running as it does in production:
serve.py (granian), production settings, word services on a migrated SQLite database, the
aggregator in front of the real word services, and once more in front of two dead addresses so
that its 503 problem answers are fuzzed too.

Every operation gets schema-valid and schema-breaking input (mode `all`). No answer may be a
5xx (except the aggregator's documented upstream problems), break its own schema, use an
undocumented status or content type, and no write may succeed without credentials. The
word services are fuzzed twice: anonymously, and with a staff token so writes happen."""

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests import processes
from tests.app.stack import SECRET, prepare_stack, running, staff_token
from tests.app.upstreams import ROOT, Service, free_port

pytestmark = pytest.mark.integration

AUDIT_VENV = ROOT / ".venv-audit"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    # A write that succeeded with the staff token is sent again without it and with a bad
    # one: both must be refused.
    "ignored_auth",
]
# Only where the fuzzer has no credentials (tests/audit/schemathesis_hooks.py).
ANONYMOUS_CHECKS = [*CHECKS, "no_anonymous_write"]
# Bounded: per operation, per phase. The whole module takes about two minutes on 2 cores.
MAX_EXAMPLES = int(os.environ.get("WORDMIX_FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("WORDMIX_FUZZ_SEED", "20261127")
RUN_TIMEOUT = 1800  # generous: a loaded machine is slow; nothing here measures speed
# Fuzzing writes far faster than a person and sends bad tokens on purpose; the write
# throttle and the login lockout would answer 429 to everything after a few seconds (both
# are documented in the schema and tested in tests/app/test_guards.py).
UNTHROTTLED = {"WORDMIX_WRITE_RATE": "1000000/minute", "WORDMIX_LOGIN_FAILURE_LIMIT": "1000000"}


@pytest.fixture(scope="module")
def schemathesis_bin() -> Path:
    """The audit tools' venv, created from requirements/audit.txt when missing or stale."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "audit.sh"), "venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        "scripts/audit.sh venv could not install the audit tools (needs PyPI):\n"
        + result.stderr[-3000:]
    )
    return AUDIT_VENV / "bin" / "schemathesis"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Service]]:
    started = prepare_stack(tmp_path_factory.mktemp("fuzz"), UNTHROTTLED)
    # Nothing listens on these ports: every upstream call is refused, as when both
    # services are down.
    started["aggregator-dead-upstreams"] = Service(
        "aggregator",
        {
            "DJANGO_SECRET_KEY": SECRET,
            "VERBS_URL": f"http://127.0.0.1:{free_port()}",
            "NOUNS_URL": f"http://127.0.0.1:{free_port()}",
        },
    )
    with running(started):
        yield started


def run_schemathesis(
    binary: Path,
    service: Service,
    label: str,
    checks: list[str],
    *headers: str,
    config: Path | None = None,
) -> str:
    log = ROOT / "var" / "test-logs" / f"schemathesis-{label}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [str(binary), "--no-color"]
    if config is not None:
        command += ["--config-file", str(config)]
    command += [
        "run",
        f"{service.url}/api/schema/",
        "--checks",
        ",".join(checks),
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "2",
        "--request-timeout",
        "60",
        "--continue-on-failure",
    ]
    for header in headers:
        command += ["--header", header]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.audit.schemathesis_hooks",
        "PYTHONPATH": str(ROOT),
    }
    # processes.run: a timeout stops schemathesis with its workers, not schemathesis alone.
    result = processes.run(
        command,
        cwd=log.parent,  # schemathesis keeps its .schemathesis/ cache in the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    log.write_text(output)
    assert result.returncode == 0, (
        f"schemathesis found problems in {label} (full output: {log}):\n{output[-12000:]}"
    )
    # A run that quietly tested nothing (schema not loaded, operations filtered out) must
    # not pass: every operation of the schema was exercised, and every case passed.
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert selected and tested and cases, f"unexpected schemathesis summary:\n{output[-3000:]}"
    assert int(tested.group(1)) == int(selected.group(2)) > 0, output[-3000:]
    assert int(cases.group(1)) == int(cases.group(2)) >= int(tested.group(1)), output[-3000:]
    print(f"{label}: {tested.group(1)} operations, {cases.group(1)} cases, all passed")
    return output


def test_aggregator_fuzzing_finds_nothing(
    schemathesis_bin: Path, services: dict[str, Service]
) -> None:
    # First in this module: the staff runs below delete words, and here every mix must
    # succeed, so not even the documented 503 is accepted.
    run_schemathesis(schemathesis_bin, services["aggregator"], "aggregator", ANONYMOUS_CHECKS)


def test_aggregator_with_dead_upstreams_answers_only_documented_problems(
    schemathesis_bin: Path, services: dict[str, Service]
) -> None:
    run_schemathesis(
        schemathesis_bin,
        services["aggregator-dead-upstreams"],
        "aggregator-dead-upstreams",
        ANONYMOUS_CHECKS,
        config=Path(__file__).with_name("schemathesis-dead-upstreams.toml"),
    )


@pytest.mark.parametrize("name", ["verbs", "nouns"])
def test_word_service_anonymous_fuzzing_finds_nothing(
    schemathesis_bin: Path, services: dict[str, Service], name: str
) -> None:
    run_schemathesis(schemathesis_bin, services[name], f"{name}-anonymous", ANONYMOUS_CHECKS)


@pytest.mark.parametrize("name", ["verbs", "nouns"])
def test_word_service_staff_fuzzing_finds_nothing(
    schemathesis_bin: Path, services: dict[str, Service], name: str
) -> None:
    service = services[name]
    token = staff_token(name, service.env)
    before = requests.get(f"{service.url}/all", timeout=30).json()[name]
    run_schemathesis(
        schemathesis_bin, service, f"{name}-staff", CHECKS, f"Authorization: Token {token}"
    )
    # The token really wrote: a run whose writes all bounced would prove nothing about them.
    assert requests.get(f"{service.url}/all", timeout=30).json()[name] != before
