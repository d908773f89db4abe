"""Helpers of the image test: the podman tooling, the Debian base image, the PostgreSQL
stand-in, the compose stack and what the test reads from running containers.

Plain Python (no Django): the images are black boxes reached over HTTP and `podman exec`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from tests import processes

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BASE_IMAGE = "docker.io/library/debian:trixie-slim"
DEBIAN_MIRROR = os.environ.get("WORDMIX_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SERVICES = ("verbs", "nouns", "aggregator")
MACHINE_SETUP = (
    "install podman, buildah, runc and debootstrap (Debian: apt-get install podman buildah "
    "runc debootstrap); on machines where crun or raised ulimits fail, "
    "/etc/containers/containers.conf needs [containers] default_ulimits = "
    '["nofile=1024:1024", "nproc=1000:1000"] and [engine] runtime = "runc"'
)

T = TypeVar("T")


def log(message: str) -> None:
    """Progress lines; shown by pytest with -s and in the captured output of a failure."""
    print(f"[images] {message}", flush=True)


def require(tool: str, how: str = MACHINE_SETUP) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is needed for the image test: {how}", pytrace=False)
    return path


def podman_compose() -> str:
    beside_python = Path(sys.executable).parent / "podman-compose"
    if beside_python.exists():
        return str(beside_python)
    return require("podman-compose", "it is in requirements/dev.txt: run `make venv`")


def run(
    args: list[str],
    *,
    check: bool = True,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    # processes.run: a timeout stops the command's whole tree, not only the command.
    result = processes.run(
        args, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-3000:]}"
            f"\n{result.stderr[-3000:]}",
            pytrace=False,
        )
    return result


def podman(*args: str, check: bool = True, timeout: float = 600) -> str:
    return run(["podman", *args], check=check, timeout=timeout).stdout.strip()


def image_exists(name: str) -> bool:
    return run(["podman", "image", "exists", name], check=False).returncode == 0


def wait_until(what: str, probe: Callable[[], T | None], timeout: float = 300) -> T:
    """Calls probe until it returns something other than None (or raises at the deadline)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except Exception as error:
            last_error = error
        else:
            if value is not None:
                return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} ({last_error!r})")


# --------------------------------------------------------------------------------------
# Base image: Debian trixie under the name the Dockerfile uses.


def ensure_base_image() -> str:
    """Makes docker.io/library/debian:trixie-slim if it is missing (it cannot be pulled on
    machines without registry access): debootstrap a minimal trixie, slim it the way Debian's
    official `-slim` image is (no docs, man pages or translations, no apt lists, apt told to
    drop downloaded packages), and import it under the official name. Cached: an existing
    image, made here or pulled, is used as it is."""
    if image_exists(BASE_IMAGE):
        return "present"
    if run(["podman", "pull", BASE_IMAGE], check=False, timeout=120).returncode == 0:
        return "pulled"
    require("debootstrap")
    if os.geteuid() != 0:
        pytest.fail(f"making {BASE_IMAGE} with debootstrap needs root", pytrace=False)
    log(f"{BASE_IMAGE} is missing and cannot be pulled: making it with debootstrap (~1 min)")
    with tempfile.TemporaryDirectory(prefix="wordmix-trixie-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(
            ["debootstrap", "--variant=minbase", "trixie", str(rootfs), DEBIAN_MIRROR],
            timeout=900,
        )
        _slim_like_the_official_image(rootfs)
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            imported = subprocess.run(
                ["podman", "import", "--change", 'CMD ["bash"]', "-", BASE_IMAGE],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        if imported.returncode != 0 or tar.returncode != 0:
            pytest.fail(f"podman import failed: {imported.stderr}", pytrace=False)
    return "made with debootstrap"


def _slim_like_the_official_image(rootfs: Path) -> None:
    dpkg_cfg = rootfs / "etc/dpkg/dpkg.cfg.d/docker"
    dpkg_cfg.write_text(
        "path-exclude /usr/share/doc/*\n"
        "path-include /usr/share/doc/*/copyright\n"
        "path-exclude /usr/share/man/*\n"
        "path-exclude /usr/share/groff/*\n"
        "path-exclude /usr/share/info/*\n"
        "path-exclude /usr/share/locale/*\n"
        "path-exclude /usr/share/lintian/*\n"
    )
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
    )
    (rootfs / "etc/apt/apt.conf.d/docker-no-languages").write_text('Acquire::Languages "none";\n')
    # The official image's sources: the release, its updates and its security fixes.
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(
        f"Types: deb\nURIs: {DEBIAN_MIRROR}\nSuites: trixie trixie-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: trixie-security\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    for pattern in (
        "var/lib/apt/lists/*",
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "usr/share/doc/*",
        "usr/share/man/*",
        "usr/share/info/*",
        "usr/share/locale/*",
        "var/log/*.log",
        "var/log/apt/*",
    ):
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.name != "copyright":
                path.unlink()


# --------------------------------------------------------------------------------------
# PostgreSQL: the official image compose.yaml names, or the stand-in under that name.


def compose_file() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def ensure_postgres_image() -> str:
    """The official image if it is here or can be pulled; otherwise the stand-in from
    docker/postgres-standin (Debian trixie's postgresql package), tagged with the official
    name so that compose.yaml runs unchanged."""
    name = compose_file()["services"]["postgres"]["image"]
    if image_exists(name):
        labels = json.loads(podman("image", "inspect", "--format", "{{json .Labels}}", name))
        if not (labels or {}).get("org.wordmix.test-stand-in"):
            return f"{name} (present)"
    elif run(["podman", "pull", name], check=False, timeout=120).returncode == 0:
        return f"{name} (pulled)"
    # Built every run (podman's layer cache makes that a second) so edits to it apply.
    run([str(ROOT / "scripts/postgres-image.sh")], timeout=900)
    return f"{name} (stand-in built from Debian's postgresql package)"


# --------------------------------------------------------------------------------------
# The three images, built by the script `make images` runs.


def version() -> str:
    described = run(["git", "describe", "--tags", "--always", "--dirty"], check=False)
    return os.environ.get("VERSION") or described.stdout.strip() or "dev"


def build_images(tag: str) -> str:
    env = {**os.environ, "VERSION": tag, "CONTAINER_ENGINE": "podman"}
    result = run([str(ROOT / "scripts/build-images.sh")], env=env, timeout=1800)
    return result.stdout


def image_size_bytes(name: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", name))


# --------------------------------------------------------------------------------------
# The compose stack.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PROJECT_PREFIX = "wordmix-imgtest-"


def compose_project() -> str:
    """The compose project of this test run: named after the run's id (tests/conftest.py),
    so that its containers can be found and removed whatever happened to the test."""
    return PROJECT_PREFIX + os.environ.get(processes.MARKER, "manual")[:12]


def leftover_containers(project: str) -> list[str]:
    """Names of the containers of `project` that exist (running or not)."""
    listed = run(
        [
            "podman",
            "ps",
            "-a",
            "--filter",
            f"label=io.podman.compose.project={project}",
            "--format",
            "{{.Names}}",
        ],
        check=False,
        timeout=120,
    )
    return listed.stdout.split()


@dataclass
class Stack:
    project: str
    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        command = [podman_compose(), "-p", self.project, "-f", str(ROOT / "compose.yaml")]
        return run([*command, *args], env=self.env, check=check, timeout=timeout).stdout

    def container(self, service: str) -> str:
        names = podman(
            "ps",
            "-a",
            "--filter",
            f"label=io.podman.compose.project={self.project}",
            "--filter",
            f"label=com.docker.compose.service={service}",
            "--format",
            "{{.Names}}",
        ).split()
        if len(names) != 1:
            pytest.fail(f"expected one {service} container in {self.project}, found {names}")
        return names[0]

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def exec(self, service: str, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["podman", "exec", self.container(service), *command], check=check)

    def inspect(self, service: str) -> dict:
        return json.loads(podman("container", "inspect", self.container(service)))[0]

    def down(self) -> None:
        self.compose("down", "-v", "-t", "5", check=False, timeout=300)
        # Whatever down left (a failed up can leave created containers), by label only.
        leftovers = podman(
            "ps", "-a", "-q", "--filter", f"label=io.podman.compose.project={self.project}"
        ).split()
        if leftovers:
            podman("rm", "-f", "-v", *leftovers, check=False)
        podman("network", "rm", "-f", f"{self.project}_default", check=False)
        podman("volume", "rm", "-f", f"{self.project}_pgdata", check=False)


# --------------------------------------------------------------------------------------
# HTTP and memory.


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def http_get(url: str, timeout: float = 5) -> Response:
    request = urllib.request.Request(url, headers={"Accept": "application/json, */*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(
                answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
            )
    except urllib.error.HTTPError as error:
        return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def memory_working_set(stack: Stack, service: str) -> tuple[int, int]:
    """(working set, limit) in bytes of the container's cgroup, read inside the container:
    usage minus inactive file cache, the number Kubernetes compares with the limit
    (container_memory_working_set_bytes). cgroup v1 and v2."""
    script = (
        "if [ -f /sys/fs/cgroup/memory.current ]; then "
        "echo $(cat /sys/fs/cgroup/memory.current) $(cat /sys/fs/cgroup/memory.max) "
        "$(awk '$1==\"inactive_file\" {print $2}' /sys/fs/cgroup/memory.stat); else "
        "d=/sys/fs/cgroup/memory; echo $(cat $d/memory.usage_in_bytes) "
        "$(cat $d/memory.limit_in_bytes) "
        "$(awk '$1==\"total_inactive_file\" {print $2}' $d/memory.stat); fi"
    )
    usage, limit, inactive = stack.exec(service, "/bin/sh", "-c", script).stdout.split()
    limit_bytes = int(limit) if limit != "max" else 0
    return int(usage) - int(inactive), limit_bytes
