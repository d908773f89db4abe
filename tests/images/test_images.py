"""The three images, built from the one Dockerfile by `scripts/build-images.sh` (what
`make images` runs), and run together by the real compose.yaml under podman-compose on the
stack's own network: read-only root filesystems, all capabilities dropped,
no-new-privileges, non-root users, tmpfs for temporary files, 128 MiB / half a CPU each.

What is not the shipped thing, and why:
- No image can be pulled on the machine this was written on. The Debian base is made here
  with debootstrap and imported under its official name (containers.ensure_base_image).
- PostgreSQL: compose.yaml names the official image; when it is absent and cannot be pulled,
  a stand-in built from Debian trixie's `postgresql` package (docker/postgres-standin) is
  tagged with that name. It honours what compose.yaml uses: POSTGRES_USER, POSTGRES_PASSWORD,
  POSTGRES_DB, /docker-entrypoint-initdb.d, uid 999, password authentication on 5432.
- podman runs no health checks on its own without systemd; the test runs each one with
  `podman healthcheck run`.

The tests share one stack (module scope) and run in file order: the last two stop
containers on purpose.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import time
from collections.abc import Iterator

import pytest

from tests import original
from tests.images.containers import (
    SERVICES,
    Stack,
    build_images,
    compose_project,
    ensure_base_image,
    ensure_postgres_image,
    free_port,
    http_get,
    image_size_bytes,
    log,
    memory_working_set,
    podman,
    require,
    version,
    wait_until,
)

pytestmark = pytest.mark.images

SEED_VERBS = set(original.VERBS)
SEED_NOUNS = set(original.NOUNS)
MAX_IMAGE_BYTES = 200 * 1000 * 1000
MEMORY_LIMIT = 128 * 1024 * 1024
APP_UID = "10001"
POSTGRES_UID = "999"


@pytest.fixture(scope="module")
def tag() -> str:
    for tool in ("podman", "buildah", "runc"):
        require(tool)
    log(f"base image: {ensure_base_image()}")
    tag = version()
    started = time.monotonic()
    log(build_images(tag).rstrip())
    log(f"three images built in {time.monotonic() - started:.0f} s")
    return tag


@pytest.fixture(scope="module")
def stack(tag: str) -> Iterator[Stack]:
    log(f"postgres image: {ensure_postgres_image()}")
    # Unique per run (another run, or a benchmark, may use the same machine at once), and
    # known to the session check (tests/conftest.py), which removes what a run left.
    stack = Stack(project=compose_project(), env={})
    stack.ports = {service: free_port() for service in SERVICES}
    stack.env = {
        **os.environ,
        "VERSION": tag,
        "WORDMIX_PORT": str(stack.ports["aggregator"]),
        "WORDMIX_VERBS_PORT": str(stack.ports["verbs"]),
        "WORDMIX_NOUNS_PORT": str(stack.ports["nouns"]),
    }
    try:
        started = time.monotonic()
        # --no-build: the images under test are the ones build-images.sh made.
        stack.compose("up", "-d", "--no-build", timeout=600)
        wait_until(
            "a mix from the aggregator",
            lambda: http_get(stack.url("aggregator", "/api/v1/mix/")).status == 200 or None,
            timeout=600,
        )
        log(f"compose stack serving mixes {time.monotonic() - started:.0f} s after `up`")
        yield stack
    finally:
        for service in (*SERVICES, "postgres"):
            logs = podman("logs", "--tail", "15", f"{stack.project}_{service}_1", check=False)
            log(f"last log lines of {service}:\n{logs}")
        stack.down()


# --------------------------------------------------------------------------------------
# The images themselves.


@pytest.mark.parametrize("service", SERVICES)
def test_image_is_under_200_mb(tag: str, service: str, capsys: pytest.CaptureFixture) -> None:
    size = image_size_bytes(f"wordmix-{service}:{tag}")
    with capsys.disabled():  # the sizes belong in every run's output, not only with -s
        log(f"wordmix-{service}:{tag} is {size / 1e6:.1f} MB uncompressed")
    assert size < MAX_IMAGE_BYTES, f"wordmix-{service} is {size / 1e6:.1f} MB (limit 200 MB)"


@pytest.mark.parametrize("service", SERVICES)
def test_image_config_is_non_root_with_labels_and_no_secrets(tag: str, service: str) -> None:
    image = f"wordmix-{service}:{tag}"
    config = json.loads(podman("image", "inspect", image))[0]["Config"]
    assert config["User"] == f"{APP_UID}:{APP_UID}"
    assert config["WorkingDir"] == "/app"
    assert config["Entrypoint"] == ["/opt/venv/bin/python", "/app/serve.py"]
    assert config.get("StopSignal") == "SIGTERM"
    assert "8000/tcp" in config["ExposedPorts"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["DJANGO_SETTINGS_MODULE"] == f"wordmix.settings.{service}"
    secretish = [k for k in env if re.search("SECRET|PASSWORD|TOKEN|KEY", k)]
    assert secretish == [], f"secret-looking variables baked into {image}: {secretish}"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == f"wordmix-{service}"
    assert labels["org.opencontainers.image.version"] == tag
    for key in ("licenses", "description", "revision", "source"):
        assert f"org.opencontainers.image.{key}" in labels
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
    assert "collectstatic-at-build-time-only" not in history


def test_images_ship_no_tests_package_tools_or_apt_lists(tag: str) -> None:
    # One image is enough: the three differ only by an environment variable and a label.
    script = (
        "for tool in pip pip3 gcc cc make apt-get; do "
        "  command -v $tool && echo FOUND-TOOL $tool; done; "
        "ls /opt/venv/bin | grep -x 'pip.*' && echo FOUND-PIP; "
        "ls /var/lib/apt/lists | grep -v -x -e lock -e partial -e auxfiles && echo FOUND-LISTS; "
        "ls /var/cache/apt/archives/*.deb 2>/dev/null && echo FOUND-DEBS; "
        "find /app \\( -name tests -o -name 'tests.py' -o -name 'test_*.py' -o -name conftest.py "
        "  -o -name test.py \\) -print | sed 's/^/FOUND-TEST /'; "
        "test -d /app/.git && echo FOUND-GIT; "
        "find /app /opt/venv -name '.env*' -print | sed 's/^/FOUND-ENV-FILE /'; "
        "test -f /app/staticfiles/staticfiles.json || echo MISSING-STATIC; "
        "echo done"
    )
    out = podman(
        "run", "--rm", "--read-only", "--entrypoint", "/bin/sh",
        f"wordmix-verbs:{tag}", "-c", script,
    )  # fmt: skip
    found = [line for line in out.splitlines() if line.startswith(("FOUND", "MISSING"))]
    # apt-get itself is part of Debian's base image; what matters is that nothing was
    # installed with it beyond python3 and that no caches or lists were left behind.
    found = [line for line in found if line != "FOUND-TOOL apt-get"]
    assert out.endswith("done")
    assert found == [], f"the image carries what it should not: {found}"


# --------------------------------------------------------------------------------------
# The stack: behaviour.


def test_aggregator_serves_a_mix_of_seeded_words(stack: Stack) -> None:
    for _ in range(5):
        answer = http_get(stack.url("aggregator", "/api/v1/mix/"))
        assert answer.status == 200, answer.body
        mix = answer.json()
        assert mix["verb"] in SEED_VERBS, mix
        assert mix["noun"] in SEED_NOUNS, mix


def test_original_random_route_keeps_its_shape(stack: Stack) -> None:
    answer = http_get(stack.url("aggregator", "/random"))
    assert answer.status == 200, answer.body
    mix = answer.json()
    assert set(mix) == {"verb", "noun"}
    assert set(mix["verb"]) == {"verb"} and mix["verb"]["verb"] in SEED_VERBS
    assert set(mix["noun"]) == {"noun"} and mix["noun"]["noun"] in SEED_NOUNS


@pytest.mark.parametrize("service", ["verbs", "nouns"])
def test_word_services_read_their_postgresql_database(stack: Stack, service: str) -> None:
    # A word written into the service's PostgreSQL database behind its back shows in its
    # API: the service reads that database (SQLite, the embedded default, would not see it).
    # psql in the postgres container: a Django process exec'd into the 128 MiB app container
    # would itself need ~65 MiB.
    table, word = f"{service}_{service.removesuffix('s')}", "imagetestword"

    def psql(sql: str) -> str:
        return stack.exec(
            "postgres", "psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1",
            "-U", "postgres", "-d", service, "-tAc", sql,
        ).stdout.strip()  # fmt: skip

    # Constants only below, no outside input: S608 does not apply.
    psql(f"insert into {table} (text, created_at, updated_at) values ('{word}', now(), now())")  # noqa: S608
    try:
        listed = http_get(stack.url(service, "/all")).json()[service]
        assert word in listed
        assert len(listed) == int(psql(f"select count(*) from {table}"))  # noqa: S608
    finally:
        psql(f"delete from {table} where text = '{word}'")  # noqa: S608


def test_static_files_are_served_from_the_image(stack: Stack) -> None:
    page = http_get(stack.url("aggregator", "/"))
    assert page.status == 200
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.body.decode())
    assert assets, "the aggregator's page links no static files"
    login = http_get(stack.url("verbs", "/admin/login/"))
    assert login.status == 200
    admin_assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', login.body.decode())
    assert admin_assets, "the admin's login page links no static files"
    for service, path in [("aggregator", a) for a in assets] + [("verbs", admin_assets[0])]:
        # Hashed names (manifest storage), collected at build time into the image.
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", path), path
        answer = http_get(stack.url(service, path))
        assert answer.status == 200, f"{service} {path} -> {answer.status}"


@pytest.mark.parametrize("service", [*SERVICES, "postgres"])
def test_container_runs_hardened(stack: Stack, service: str) -> None:
    uid = stack.exec(service, "id", "-u").stdout.strip()
    assert uid == (POSTGRES_UID if service == "postgres" else APP_UID)
    denied = stack.exec(service, "touch", "/probe-root-write", check=False)
    assert denied.returncode != 0
    assert "Read-only file system" in denied.stderr
    tmp = stack.exec(service, "sh", "-c", "touch /tmp/probe && rm /tmp/probe", check=False)
    assert tmp.returncode == 0, f"/tmp is not writable: {tmp.stderr}"
    status = dict(
        line.split(":", 1)
        for line in stack.exec(service, "cat", "/proc/1/status").stdout.splitlines()
    )
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[capabilities].strip(), 16) == 0, f"{capabilities} {status[capabilities]}"
    assert status["NoNewPrivs"].strip() == "1"
    host = stack.inspect(service)["HostConfig"]
    assert host["ReadonlyRootfs"] is True


@pytest.mark.parametrize("service", [*SERVICES, "postgres"])
def test_compose_health_check_passes(stack: Stack, service: str) -> None:
    result = podman("healthcheck", "run", stack.container(service), check=False)
    assert result in ("", "healthy"), result


def test_memory_stays_under_128_mib_after_a_burst(
    stack: Stack, capsys: pytest.CaptureFixture
) -> None:
    urls = (
        [stack.url("aggregator", "/api/v1/mix/")] * 300
        + [stack.url("aggregator", "/random")] * 100
        + [stack.url("verbs", "/api/v1/verbs/random/")] * 50
        + [stack.url("nouns", "/api/v1/nouns/random/")] * 50
    )
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda url: http_get(url, timeout=60).status, urls))
    elapsed = time.monotonic() - started
    log(f"{len(urls)} requests in {elapsed:.1f} s ({len(urls) / elapsed:.0f}/s)")
    assert statuses.count(200) == len(urls), {s: statuses.count(s) for s in set(statuses)}
    for service in SERVICES:
        working_set, limit = memory_working_set(stack, service)
        processes = stack.exec(
            service, "sh", "-c", "grep -l 'serve.p[y]' /proc/[0-9]*/cmdline | wc -l"
        ).stdout.strip()
        with capsys.disabled():
            log(
                f"{service}: {working_set / 2**20:.1f} MiB after the burst (limit "
                f"{limit / 2**20:.0f} MiB), {processes} server processes"
            )
        assert limit == MEMORY_LIMIT, f"{service} runs without the 128 MiB limit"
        assert working_set < MEMORY_LIMIT
        state = stack.inspect(service)["State"]
        assert state["Running"] and not state["OOMKilled"], state


def test_nouns_down_gives_a_503_problem_then_recovers(
    stack: Stack, capsys: pytest.CaptureFixture
) -> None:
    nouns = stack.container("nouns")
    podman("stop", "-t", "30", nouns, timeout=120)
    gone = time.monotonic()
    # The aggregator may serve its cached word list for up to 2 s; any mix asked for later
    # must say the nouns service is unreachable. Polled, so a slow machine only waits longer.
    answer = wait_until(
        "a mix asked for 2 s after nouns stopped",
        lambda: (
            http_get(stack.url("aggregator", "/api/v1/mix/"), timeout=30)
            if time.monotonic() >= gone + 2.0
            else None
        ),
    )
    assert answer.status == 503, answer.body
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 503
    assert "nouns" in problem["detail"].lower(), problem

    started = time.monotonic()
    podman("start", nouns, timeout=120)
    wait_until(
        "the aggregator to mix again",
        lambda: http_get(stack.url("aggregator", "/api/v1/mix/"), timeout=30).status == 200 or None,
    )
    recovery = time.monotonic() - started
    with capsys.disabled():
        log(f"mixes again {recovery:.1f} s after `podman start` of nouns (with its migrate)")


@pytest.mark.parametrize("service", [*SERVICES, "postgres"])
def test_sigterm_stops_the_container_by_itself(
    stack: Stack, service: str, capsys: pytest.CaptureFixture
) -> None:
    container = stack.container(service)
    started = time.monotonic()
    # podman sends the image's STOPSIGNAL (SIGTERM; SIGINT, PostgreSQL's fast shutdown) and
    # would SIGKILL after 30 s (exit code 137); a clean exit code shows the process stopped
    # on its own. How fast is not asserted: a loaded machine is slow.
    podman("stop", "-t", "30", container, timeout=120)
    elapsed = time.monotonic() - started
    state = stack.inspect(service)["State"]
    with capsys.disabled():
        log(f"{service} stopped in {elapsed:.1f} s, exit code {state['ExitCode']}")
    logs = podman("logs", "--tail", "8", container, check=False)
    assert state["ExitCode"] == 0, f"{service} did not exit cleanly: {state}\n{logs}"
