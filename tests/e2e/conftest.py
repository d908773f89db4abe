"""The local node for the live checks: built and started once for the run, taken down after it
whatever happened (`make e2e` also runs `node.sh down` after pytest, in case pytest itself
was killed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.kube import NODE, ROOT

LOGS = ROOT / "var/e2e"


def run_logged(name: str, command: list[str], env: dict[str, str], timeout: float) -> str:
    """Runs COMMAND with its output in var/e2e/NAME.log (and returns it); fails the test with
    the log's tail when it exits non-zero."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}.log"
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            timeout=timeout,
            start_new_session=True,
            check=False,
        )
    text = log.read_text()
    print(f"[e2e] {name}: exit {result.returncode} in {time.monotonic() - started:.0f} s ({log})")
    if result.returncode != 0:
        tail = "\n".join(text.splitlines()[-40:])
        pytest.fail(f"{' '.join(command)} exited {result.returncode}; last lines:\n{tail}")
    return text


def missing_tools() -> list[str]:
    needed = ("go", "gcc", "openssl", "nft", "ip", "runc", "buildah", "podman", "debootstrap")
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if not Path("/usr/lib/cni/ptp").exists():
        missing.append("containernetworking-plugins")
    if not Path("/bin/busybox").exists():
        missing.append("busybox-static")
    return missing


@pytest.fixture(scope="session")
def node() -> Iterator[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.fail("the local node runs containerd and the kubelet: run the e2e checks as root")
    missing = missing_tools()
    if missing:
        pytest.fail(
            f"the local node needs {', '.join(missing)} (Debian: apt-get install golang gcc "
            "openssl nftables iproute2 runc buildah podman debootstrap "
            "containernetworking-plugins busybox-static)"
        )
    # The app's images and the PostgreSQL stand-in start from the Debian base image.
    from tests.images.containers import ensure_base_image, ensure_postgres_image

    ensure_base_image()
    ensure_postgres_image()
    base_env = {**os.environ}
    try:
        # Cold, this builds Kubernetes and the rest from the Go module proxy (tens of minutes).
        run_logged("cluster-up", [str(NODE), "up"], base_env, timeout=4 * 3600)
        kubeconfig = subprocess.run(
            [str(NODE), "kubeconfig"], capture_output=True, text=True, check=True
        ).stdout.strip()
        yield {**base_env, "KUBECONFIG": kubeconfig}
    finally:
        subprocess.run([str(NODE), "down"], cwd=ROOT, timeout=600, check=False)
